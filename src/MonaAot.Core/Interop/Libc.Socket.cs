using System.Runtime.InteropServices;
using System.Runtime.Versioning;

#pragma warning disable CS8981 // C names verbatim (linger)

namespace MonaAot.Interop;

/// <summary>sys/socket.h, netinet/in.h, netinet/tcp.h (Linux values, same on x64 and arm64).</summary>
internal static unsafe partial class Libc
{
    public const int AF_INET = 2;
    public const int AF_INET6 = 10;
    public const int SOCK_STREAM = 1;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;

    public const int SOL_SOCKET = 1;
    public const int SO_REUSEADDR = 2;
    public const int SO_ERROR = 4;
    public const int SO_BROADCAST = 6;
    public const int SO_LINGER = 13;
    public const int SO_REUSEPORT = 15;
    public const int IPPROTO_TCP = 6;
    public const int TCP_NODELAY = 1;
    public const int IPPROTO_IPV6 = 41;
    public const int IPV6_V6ONLY = 26;

    public const int MSG_NOSIGNAL = 0x4000;
    public const int SHUT_WR = 1;
    public const int SOMAXCONN = 4096;

    /// <summary>struct sockaddr_in6; also large enough for sockaddr_in (16 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct sockaddr_in6
    {
        public ushort sin6_family;
        public ushort sin6_port;      // network order
        public uint sin6_flowinfo;
        public fixed byte sin6_addr[16];
        public uint sin6_scope_id;
    }

    /// <summary>struct sockaddr_in.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct sockaddr_in
    {
        public ushort sin_family;
        public ushort sin_port;       // network order
        public fixed byte sin_addr[4];
        public fixed byte sin_zero[8];
    }

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "socket")]
    public static partial int socket(int domain, int type, int protocol);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "bind")]
    public static partial int bind(int fd, void* addr, uint addrlen);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "listen")]
    public static partial int listen(int fd, int backlog);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "accept4")]
    public static partial int accept4(int fd, void* addr, uint* addrlen, int flags);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "connect")]
    public static partial int connect(int fd, void* addr, uint addrlen);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "send")]
    public static partial nint send(int fd, void* buf, nuint len, int flags);

    [UnsupportedOSPlatform("windows")]

    /// <summary>Only on non-blocking sockets (SocketCalls.Receive, the TCP read of every
    /// message): a call that never waits, so it skips the GC transition, two runtime calls per
    /// message (docs/performance.md, "Issue 19: CPU per message").</summary>
    [LibraryImport(Name, EntryPoint = "recv"), SuppressGCTransition]
    public static partial nint recv(int fd, void* buf, nuint len, int flags);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "shutdown")]
    public static partial int shutdown(int fd, int how);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "getsockopt")]
    public static partial int getsockopt(int fd, int level, int optname, void* optval, uint* optlen);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "setsockopt")]
    public static partial int setsockopt(int fd, int level, int optname, void* optval, uint optlen);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "getsockname")]
    public static partial int getsockname(int fd, void* addr, uint* addrlen);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "getpeername")]
    public static partial int getpeername(int fd, void* addr, uint* addrlen);

    /// <summary>ioctl request: bytes in a TCP socket's send queue not yet acknowledged by the peer
    /// (linux/sockios.h: SIOCOUTQ = TIOCOUTQ, the same number on x86-64 and arm64).</summary>
    public const nuint SIOCOUTQ = 0x5411;

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "ioctl")]
    public static partial int ioctl(int fd, nuint request, int* argument);

    /// <summary>struct linger</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct linger
    {
        public int l_onoff;
        public int l_linger;
    }

    [UnsupportedOSPlatform("windows")]

    public static int SetIntOption(int fd, int level, int name, int value) => setsockopt(fd, level, name, &value, sizeof(int));
}
