using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace MonaAot.Interop;

/// <summary>unistd.h</summary>
internal static unsafe partial class Libc
{
    [UnsupportedOSPlatform("windows")]
    [LibraryImport(Name, EntryPoint = "read")]
    public static partial nint read(int fd, void* buf, nuint count);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "write")]
    public static partial nint write(int fd, void* buf, nuint count);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "close")]
    public static partial int close(int fd);
}
