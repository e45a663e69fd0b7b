using System.Runtime.InteropServices;

namespace MonaAot.Interop;

/// <summary>unistd.h</summary>
internal static unsafe partial class Libc
{
    [LibraryImport(Name, EntryPoint = "read")]
    public static partial nint read(int fd, void* buf, nuint count);

    [LibraryImport(Name, EntryPoint = "write")]
    public static partial nint write(int fd, void* buf, nuint count);

    [LibraryImport(Name, EntryPoint = "close")]
    public static partial int close(int fd);
}
