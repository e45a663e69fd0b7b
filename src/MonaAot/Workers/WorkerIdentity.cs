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
    /// <summary>"i/N", set by the supervisor for each worker it starts.</summary>
    public const string Variable = "MONAAOT_WORKER";

    /// <summary>The supervisor's process id, set beside <see cref="Variable"/>: a worker whose
    /// parent is no longer that process exits (WorkerProcess).</summary>
    public const string SupervisorVariable = "MONAAOT_SUPERVISOR";

    /// <summary>The process's own identity (1 of 1 when <see cref="Variable"/> is absent or
    /// malformed: Program refuses the latter before anything runs).</summary>
    public static WorkerIdentity Current { get; } =
        Parse(Environment.GetEnvironmentVariable(Variable)) is { } parsed ? parsed with { IsWorker = true } : new WorkerIdentity(1, 1);

    /// <summary>True in a process a supervisor started.</summary>
    public bool IsWorker { get; private init; }

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
