namespace MonaAot.Processes;

/// <summary>
/// The few process calls that <c>[server] workers</c> needs and .NET does not offer: a signal
/// to a child (Process.Kill only sends SIGKILL), the parent's id, leaving the terminal's process
/// group, and dying with the parent. Linux only: Windows refuses workers (docs/api.md,
/// "[server] workers"), so its half does nothing and says so.
/// </summary>
public static partial class ProcessControl
{
    public const int SigHup = 1;
    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;

    public static partial bool IsSupported { get; }

    /// <summary>kill(2): false when <paramref name="pid"/> is gone (or on Windows).</summary>
    public static partial bool Signal(int pid, int signal);

    /// <summary>getppid(2); 0 on Windows.</summary>
    public static partial int ParentId { get; }

    /// <summary>
    /// setpgid(0, 0): the process leads its own group, so a Ctrl+C at the terminal (sent to the
    /// foreground group) reaches only the supervisor, which passes it on once.
    /// </summary>
    public static partial bool LeaveTerminalGroup();

    /// <summary>PR_SET_PDEATHSIG: the kernel sends <paramref name="signal"/> when the parent
    /// (exactly: the parent's thread that started this process) ends.</summary>
    public static partial bool DieWithParent(int signal);
}
