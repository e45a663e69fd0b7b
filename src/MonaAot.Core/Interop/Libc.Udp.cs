using System.Runtime.InteropServices;
using System.Runtime.Versioning;

#pragma warning disable CS8981 // C names verbatim (msghdr, mmsghdr, iovec, ip_mreqn, ipv6_mreq)

namespace MonaAot.Interop;

/// <summary>sys/socket.h (datagrams: sendto, recvmmsg, sendmmsg), netinet/in.h (multicast), net/if.h.</summary>
internal static unsafe partial class Libc
{
    public const int IPPROTO_IP = 0;
    public const int IP_MULTICAST_IF = 32;
    public const int IP_MULTICAST_TTL = 33;
    public const int IP_MULTICAST_LOOP = 34;
    public const int IP_ADD_MEMBERSHIP = 35;
    public const int IP_DROP_MEMBERSHIP = 36;
    public const int IPV6_MULTICAST_IF = 17;
    public const int IPV6_MULTICAST_HOPS = 18;
    public const int IPV6_MULTICAST_LOOP = 19;
    public const int IPV6_ADD_MEMBERSHIP = 20;
    public const int IPV6_DROP_MEMBERSHIP = 21;

    public const int EDESTADDRREQ = 89;
    public const int EMSGSIZE = 90;
    public const int EISCONN = 106;

    [StructLayout(LayoutKind.Sequential)]
    public struct iovec
    {
        public void* iov_base;
        public nuint iov_len;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct msghdr
    {
        public void* msg_name;
        public uint msg_namelen;
        public iovec* msg_iov;
        public nuint msg_iovlen;
        public void* msg_control;
        public nuint msg_controllen;
        public int msg_flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct mmsghdr
    {
        public msghdr msg_hdr;
        public uint msg_len;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct ip_mreqn
    {
        public uint imr_multiaddr;
        public uint imr_address;
        public int imr_ifindex;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct ipv6_mreq
    {
        public fixed byte ipv6mr_multiaddr[16];
        public uint ipv6mr_interface;
    }

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "sendto")]
    public static partial nint sendto(int fd, void* buf, nuint len, int flags, void* addr, uint addrlen);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "recvmmsg")]
    public static partial int recvmmsg(int fd, mmsghdr* msgvec, uint vlen, int flags, void* timeout);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "sendmmsg")]
    public static partial int sendmmsg(int fd, mmsghdr* msgvec, uint vlen, int flags);

    [UnsupportedOSPlatform("windows")]

    [LibraryImport(Name, EntryPoint = "if_nametoindex", StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint if_nametoindex(string name);
}
