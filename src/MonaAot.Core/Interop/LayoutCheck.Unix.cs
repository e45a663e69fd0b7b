using System.Collections.Generic;

namespace MonaAot.Interop;

/// <summary>The kernel structs the Unix build declares (Libc.*.cs), as C# lays them out: sizes,
/// and the offsets of the fields the code reads or writes. The names are mona_probe.c's.</summary>
public static unsafe partial class LayoutCheck
{
    static partial void AddPlatformFacts(List<LayoutFact> facts)
    {
        Libc.epoll_event epoll = default;
        Add(facts, "epoll_event", sizeof(Libc.epoll_event));
        Add(facts, "epoll_event.data", Offset(&epoll, &epoll.data));

        Libc.iovec iov = default;
        Add(facts, "iovec", sizeof(Libc.iovec));
        Add(facts, "iovec.iov_len", Offset(&iov, &iov.iov_len));

        Libc.msghdr msg = default;
        Add(facts, "msghdr", sizeof(Libc.msghdr));
        Add(facts, "msghdr.msg_namelen", Offset(&msg, &msg.msg_namelen));
        Add(facts, "msghdr.msg_iov", Offset(&msg, &msg.msg_iov));
        Add(facts, "msghdr.msg_iovlen", Offset(&msg, &msg.msg_iovlen));
        Add(facts, "msghdr.msg_control", Offset(&msg, &msg.msg_control));
        Add(facts, "msghdr.msg_controllen", Offset(&msg, &msg.msg_controllen));
        Add(facts, "msghdr.msg_flags", Offset(&msg, &msg.msg_flags));

        Libc.mmsghdr mmsg = default;
        Add(facts, "mmsghdr", sizeof(Libc.mmsghdr));
        Add(facts, "mmsghdr.msg_len", Offset(&mmsg, &mmsg.msg_len));

        Libc.sockaddr_in in4 = default;
        Add(facts, "sockaddr_in", sizeof(Libc.sockaddr_in));
        Add(facts, "sockaddr_in.sin_port", Offset(&in4, &in4.sin_port));
        Add(facts, "sockaddr_in.sin_addr", Offset(&in4, in4.sin_addr));

        Libc.sockaddr_in6 in6 = default;
        Add(facts, "sockaddr_in6", sizeof(Libc.sockaddr_in6));
        Add(facts, "sockaddr_in6.sin6_port", Offset(&in6, &in6.sin6_port));
        Add(facts, "sockaddr_in6.sin6_flowinfo", Offset(&in6, &in6.sin6_flowinfo));
        Add(facts, "sockaddr_in6.sin6_addr", Offset(&in6, in6.sin6_addr));
        Add(facts, "sockaddr_in6.sin6_scope_id", Offset(&in6, &in6.sin6_scope_id));

        Libc.sockaddr_un un = default;
        Add(facts, "sockaddr_un", sizeof(Libc.sockaddr_un));
        Add(facts, "sockaddr_un.sun_path", Offset(&un, un.sun_path));

        Libc.rlimit limit = default;
        Add(facts, "rlimit", sizeof(Libc.rlimit));
        Add(facts, "rlimit.rlim_max", Offset(&limit, &limit.rlim_max));

        Libc.linger linger = default;
        Add(facts, "linger", sizeof(Libc.linger));
        Add(facts, "linger.l_linger", Offset(&linger, &linger.l_linger));

        Libc.ip_mreqn mreqn = default;
        Add(facts, "ip_mreqn", sizeof(Libc.ip_mreqn));
        Add(facts, "ip_mreqn.imr_ifindex", Offset(&mreqn, &mreqn.imr_ifindex));

        Libc.ipv6_mreq mreq6 = default;
        Add(facts, "ipv6_mreq", sizeof(Libc.ipv6_mreq));
        Add(facts, "ipv6_mreq.ipv6mr_interface", Offset(&mreq6, &mreq6.ipv6mr_interface));
    }

    private static void Add(List<LayoutFact> facts, string name, long value) => facts.Add(new LayoutFact(name, value));

    private static long Offset(void* start, void* field) => (byte*)field - (byte*)start;
}
