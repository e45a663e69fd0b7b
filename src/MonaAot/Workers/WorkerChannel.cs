using MonaAot.Logging;

namespace MonaAot.Workers;

/// <summary>
/// A worker's notes to its supervisor, on the pipe its log lines already take (standard
/// output): one line that starts with <see cref="Mark"/>, which no log line does (they start
/// with the time), followed by a systemd-style state (<c>READY=1</c>). The supervisor tells
/// systemd READY=1 once every worker said it (docs/architecture.md, "Workers").
/// </summary>
public static class WorkerChannel
{
    /// <summary>ASCII's record separator, which the worker's log lines never hold.</summary>
    public const char Mark = ConsoleLogSink.NoteMark;

    public const string Ready = "READY=1";

    public static void Tell(ConsoleLogSink console, string state) => console.WriteLine(Mark + state);

    /// <summary>The state a line carries, or null for a log line.</summary>
    public static string? StateOf(string line) => line.Length > 1 && line[0] == Mark ? line[1..] : null;
}
