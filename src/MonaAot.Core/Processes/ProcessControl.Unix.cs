using System.Diagnostics;
using MonaAot.Interop;

namespace MonaAot.Processes;

/// <summary>The Linux half of <see cref="ProcessControl"/>: libc.</summary>
public static partial class ProcessControl
{
    public static partial bool IsSupported => true;

    public static partial bool Signal(int pid, int signal)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        return pid > 0 && Libc.kill(pid, signal) == 0;
    }

    public static partial int ParentId
    {
        get
        {
            Debug.Assert(TargetPlatform.IsUnix);
            return Libc.getppid();
        }
    }

    public static partial bool LeaveTerminalGroup()
    {
        Debug.Assert(TargetPlatform.IsUnix);
        return Libc.setpgid(0, 0) == 0;
    }

    public static partial bool DieWithParent(int signal)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        return Libc.prctl(Libc.PR_SET_PDEATHSIG, (nuint)signal, 0, 0, 0) == 0;
    }
}
