using System;
using System.Globalization;

namespace MonaAot.Workers;

/// <summary>
/// Which worker this process is: <c>Number</c> of <c>Count</c> (1 of 1 without
/// <c>[server] workers</c>). A supervisor tells each worker through the environment variable
/// <see cref="Variable"/> (<c>"i/N"</c>, internal: docs/architecture.md, "Workers"); it is read
/// once, at start.
/// </summary>
public sealed record WorkerIdentity(int Number, int Count)
{
    public const string Variable = "MONAAOT_WORKER";

    /// <summary>The process's own identity, or null when the variable is malformed.</summary>
    public static WorkerIdentity Current { get; } = Parse(Environment.GetEnvironmentVariable(Variable)) ?? new WorkerIdentity(1, 1);

    /// <summary>True in a process a supervisor started.</summary>
    public bool IsWorker => Environment.GetEnvironmentVariable(Variable) is not null;

    public static WorkerIdentity? Parse(string? text)
    {
        if (string.IsNullOrEmpty(text))
            return null;
        int slash = text.IndexOf('/');
        if (slash <= 0
            || !int.TryParse(text.AsSpan(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out int number)
            || !int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int count)
            || count < 1 || number < 1 || number > count)
            return null;
        return new WorkerIdentity(number, count);
    }

    public string Text => string.Create(CultureInfo.InvariantCulture, $"{Number}/{Count}");
}
