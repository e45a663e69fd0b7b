using System.Runtime.InteropServices;
using System.Runtime.Versioning;

#pragma warning disable CS8981 // C names verbatim (rlimit)

namespace MonaAot.Interop;

/// <summary>sys/resource.h</summary>
internal static unsafe partial class Libc
{
    public const int RLIMIT_NOFILE = 7;

    [StructLayout(LayoutKind.Sequential)]
    public struct rlimit
    {
        public ulong rlim_cur;
        public ulong rlim_max;
    }

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "getrlimit")]
    public static partial int getrlimit(int resource, rlimit* rlim);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "setrlimit")]
    public static partial int setrlimit(int resource, rlimit* rlim);
}
