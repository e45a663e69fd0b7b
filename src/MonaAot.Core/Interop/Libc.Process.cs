using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace MonaAot.Interop;

/// <summary>signal.h, unistd.h and sys/prctl.h: what a supervisor and its workers need.</summary>
internal static partial class Libc
{
    public const int SIGHUP = 1;
    public const int SIGINT = 2;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    public const int PR_SET_PDEATHSIG = 1;

    [UnsupportedOSPlatform("windows")]
    [LibraryImport(Name, EntryPoint = "kill", SetLastError = true)]
    public static partial int kill(int pid, int signal);

    [UnsupportedOSPlatform("windows")]
    [LibraryImport(Name, EntryPoint = "getppid")]
    public static partial int getppid();

    [UnsupportedOSPlatform("windows")]
    [LibraryImport(Name, EntryPoint = "setpgid", SetLastError = true)]
    public static partial int setpgid(int pid, int pgid);

    [UnsupportedOSPlatform("windows")]
    [LibraryImport(Name, EntryPoint = "prctl", SetLastError = true)]
    public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
}
