using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace MonaAot.Interop;

/// <summary>sys/epoll.h</summary>
internal static unsafe partial class Libc
{
    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CTL_MOD = 3;

    public const uint EPOLLIN = 0x001;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLET = 1u << 31;

    /// <summary>
    /// struct epoll_event is declared packed on x86-64 (12 bytes, data at offset 4) and naturally
    /// aligned elsewhere (16 bytes, data at 8): the kernel writes entries of that size, so a
    /// wrong one here makes epoll_wait write past the array. MONA_ARM64 is defined for the
    /// linux-arm64 build (Directory.Build.props); every start compares the layout with the C
    /// compiler's answer for the target (LayoutCheck, docs/architecture.md "Architectures").
    /// </summary>
#if MONA_ARM64
    [StructLayout(LayoutKind.Sequential)]
#else
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
#endif
    public struct epoll_event
    {
        public uint events;
        public ulong data;
    }

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "epoll_create1")]
    public static partial int epoll_create1(int flags);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "epoll_ctl")]
    public static partial int epoll_ctl(int epfd, int op, int fd, epoll_event* ev);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "epoll_wait")]
    public static partial int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout);
}
