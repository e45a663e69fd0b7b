using System;

namespace MonaAot.Tests.Support;

/// <summary>
/// How the tests start the published binary when it is not for this machine: MONAAOT_RUNNER is
/// a command prefix put before MONAAOT_BINARY wherever a test starts it (build.sh test-arm64
/// sets "qemu-aarch64" to run the linux-arm64 binary from the x64 test
/// host; docs/architecture.md "Testing and reliability"). MONAAOT_TIME_SCALE multiplies every
/// bounded wait of the support's helpers, since an emulated binary does the same work several
/// times slower; tests assert behaviour, never wall-clock speed, so only the bounds grow.
/// </summary>
public static class Runner
{
    /// <summary>The words of MONAAOT_RUNNER (split on spaces; no quoting), empty when unset.</summary>
    public static readonly string[] Prefix =
        (Environment.GetEnvironmentVariable("MONAAOT_RUNNER") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>True when the binary runs through a runner (an emulator): the tests that read what
    /// only a native process shows (its own maps, a re-exec of itself) skip, saying so.</summary>
    public static bool IsSet => Prefix.Length > 0;

    /// <summary>MONAAOT_TIME_SCALE (a number at least 1), 1 when unset.</summary>
    public static readonly double TimeScale = ParseScale(Environment.GetEnvironmentVariable("MONAAOT_TIME_SCALE"));

    /// <summary>The reason given by a test skipped under a runner.</summary>
    public static string SkipReason(string why) => $"not under MONAAOT_RUNNER ({string.Join(' ', Prefix)}): {why}";

    /// <summary><paramref name="timeout"/> times <see cref="TimeScale"/>.</summary>
    public static TimeSpan Scale(TimeSpan timeout) =>
        timeout == System.Threading.Timeout.InfiniteTimeSpan ? timeout : timeout * TimeScale;

    /// <summary>A loop count for a load that only has to be large enough to show something (an
    /// allocation that grows with traffic): divided by <paramref name="divisor"/> under a runner.</summary>
    public static int Count(int count, int divisor) => IsSet ? Math.Max(1, count / divisor) : count;

    /// <summary>The command line that starts the binary: the runner's words, then the binary
    /// (after <see cref="SignalReset"/> when it is needed).</summary>
    public static string[] Command(string binary) => [.. SignalReset, .. Prefix, binary];

    /// <summary>The signals the tests send to the binary, by number: SIGHUP, SIGINT, SIGTERM.</summary>
    private static readonly (int Number, string Name)[] SignalsSent = [(1, "HUP"), (2, "INT"), (15, "TERM")];

    /// <summary>`env --default-signal=...` for those of <see cref="SignalsSent"/> this test process
    /// ignores, else nothing. A command a non-interactive shell starts in the background
    /// (`./build.sh test &amp;` in a script) ignores SIGINT, one started by nohup SIGHUP, and so
    /// does every child it starts; the binary then keeps ignoring them, as .NET, Python and the
    /// shells do (docs/api.md, "Signals and shutdown"), and the tests that send them would wait
    /// for nothing. env resets them and execs: the PID stays the binary's.</summary>
    private static readonly string[] SignalReset = IgnoredSignals() is { Length: > 0 } names
        ? ["env", "--default-signal=" + string.Join(',', names)]
        : [];

    /// <summary>The names of <see cref="SignalsSent"/> in this process's ignored set
    /// (/proc/self/status SigIgn, a hexadecimal mask whose bit N-1 is signal N); none where there
    /// is no /proc.</summary>
    private static string[] IgnoredSignals()
    {
        if (!OperatingSystem.IsLinux() || !System.IO.File.Exists("/proc/self/status"))
            return [];
        foreach (string line in System.IO.File.ReadLines("/proc/self/status"))
            if (line.StartsWith("SigIgn:", StringComparison.Ordinal))
            {
                ulong ignored = Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16);
                return Array.ConvertAll(Array.FindAll(SignalsSent, s => (ignored & (1UL << (s.Number - 1))) != 0), s => s.Name);
            }
        return [];
    }

    /// <summary>The same, quoted for a POSIX shell script that execs it.</summary>
    public static string ShellCommand(string binary) => string.Join(' ', Array.ConvertAll(Command(binary), Quote));

    private static string Quote(string word) => "'" + word.Replace("'", "'\\''") + "'";

    private static double ParseScale(string? text)
    {
        if (string.IsNullOrEmpty(text))
            return 1;
        if (!double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double scale) || scale < 1)
            throw new InvalidOperationException($"MONAAOT_TIME_SCALE must be a number at least 1, not '{text}'");
        return scale;
    }
}
