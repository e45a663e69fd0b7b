using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace MonaAot.Interop;

/// <summary>fcntl.h, sys/un.h: what an inherited descriptor (socket activation) and the
/// service manager's notify socket need.</summary>
internal static unsafe partial class Libc
{
    public const int AF_UNIX = 1;
    public const int SO_TYPE = 3;
    public const int F_SETFD = 2;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int FD_CLOEXEC = 1;
    public const int O_NONBLOCK = 0x800;

    /// <summary>struct sockaddr_un.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct sockaddr_un
    {
        public ushort sun_family;
        public fixed byte sun_path[108];
    }

    // fcntl is variadic; the commands used here take an int, passed as an int argument is.
    [UnsupportedOSPlatform("windows")]
    [LibraryImport(Name, EntryPoint = "fcntl")]
    public static partial int fcntl(int fd, int cmd, int arg);
}
