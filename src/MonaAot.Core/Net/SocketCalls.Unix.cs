using System.Diagnostics;
using System.Runtime.CompilerServices;
using MonaAot.Interop;

namespace MonaAot.Net;

/// <summary>The Linux half of <see cref="SocketCalls"/>: libc, errno as it comes.</summary>
internal static unsafe partial class SocketCalls
{
    public static int AF_INET => Libc.AF_INET;

    public static int AF_INET6 => Libc.AF_INET6;

    private static CallResult Open(int family, bool stream)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        return Libc.Checked(Libc.socket(family, (stream ? Libc.SOCK_STREAM : Libc.SOCK_DGRAM) | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0));
    }

    /// <summary>Nothing to do: sockets are made non-blocking at creation (SOCK_NONBLOCK), and
    /// accepted ones by accept4.</summary>
    public static CallResult MakeNonBlocking(nint s) => default;

    /// <summary>Closes; the result is not worth a check (the descriptor is gone even when close
    /// reports EINTR or EIO).</summary>
    public static void Close(nint s)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        Libc.close((int)s);
    }

    public static CallResult Bind(nint s, NetAddress* address)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        return Libc.Checked(Libc.bind((int)s, address, address->Length));
    }

    public static CallResult Listen(nint s)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        return Libc.Checked(Libc.listen((int)s, Libc.SOMAXCONN));
    }

    /// <summary>Starts a TCP connect, or sets a UDP socket's peer.</summary>
    public static CallResult Connect(nint s, NetAddress* address)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        return Libc.Checked(Libc.connect((int)s, address, address->Length));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CallResult Receive(nint s, byte* buffer, int length)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        return Libc.Checked(Libc.recv((int)s, buffer, (nuint)length, 0));
    }

    /// <summary>Sends without raising SIGPIPE (MSG_NOSIGNAL).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CallResult Send(nint s, byte* data, int length)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        return Libc.Checked(Libc.send((int)s, data, (nuint)length, Libc.MSG_NOSIGNAL));
    }

    public static CallResult ShutdownSend(nint s)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        return Libc.Checked(Libc.shutdown((int)s, Libc.SHUT_WR));
    }

    public static void SetNoDelay(nint s)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        Libc.SetIntOption((int)s, Libc.IPPROTO_TCP, Libc.TCP_NODELAY, 1);
    }

    /// <summary>SO_REUSEADDR, so a restarted server binds past TIME_WAIT.</summary>
    public static void SetReuseAddress(nint s)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        Libc.SetIntOption((int)s, Libc.SOL_SOCKET, Libc.SO_REUSEADDR, 1);
    }

    /// <summary>SO_REUSEPORT: every worker of <c>[server] workers</c> binds the same address and
    /// the kernel spreads connections and peers across them.</summary>
    public static void SetReusePort(nint s)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        Libc.SetIntOption((int)s, Libc.SOL_SOCKET, Libc.SO_REUSEPORT, 1);
    }

    /// <summary>An IPv6 socket that also takes IPv4 (mapped addresses).</summary>
    public static void SetDualStack(nint s)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        Libc.SetIntOption((int)s, Libc.IPPROTO_IPV6, Libc.IPV6_V6ONLY, 0);
    }

    public static void SetBroadcast(nint s, bool on)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        Libc.SetIntOption((int)s, Libc.SOL_SOCKET, Libc.SO_BROADCAST, on ? 1 : 0);
    }

    /// <summary>SO_LINGER 0: the close that follows sends a reset instead of a FIN.</summary>
    public static void SetAbortiveClose(nint s)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        var option = new Libc.linger { l_onoff = 1, l_linger = 0 };
        Libc.setsockopt((int)s, Libc.SOL_SOCKET, Libc.SO_LINGER, &option, (uint)sizeof(Libc.linger));
    }

    /// <summary>SO_ERROR: the pending error of a socket, as an errno value (0: none).</summary>
    public static int PendingError(nint s)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        int error = 0;
        uint size = sizeof(int);
        Libc.getsockopt((int)s, Libc.SOL_SOCKET, Libc.SO_ERROR, &error, &size);
        return error;
    }

    /// <summary>Bytes the kernel still holds for the peer (sent and not acknowledged, or not sent
    /// yet): SIOCOUTQ; -1 when it does not tell.</summary>
    public static int UnsentBytes(nint s)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        int unsent;
        return Libc.ioctl((int)s, Libc.SIOCOUTQ, &unsent) == 0 ? unsent : -1;
    }

    /// <summary>getsockname / getpeername into <paramref name="address"/>; false on failure.</summary>
    public static bool GetName(nint s, bool peer, NetAddress* address)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        uint size = (uint)sizeof(NetAddress);
        return (peer ? Libc.getpeername((int)s, address, &size) : Libc.getsockname((int)s, address, &size)) == 0;
    }
}
