using System.Diagnostics;
using System.Runtime.CompilerServices;
using MonaAot.Interop;

namespace MonaAot.Net;

/// <summary>The Windows half of <see cref="SocketCalls"/>: Winsock, its error codes mapped to
/// errno values (<see cref="WindowsErrors"/>) so both systems answer alike.</summary>
internal static unsafe partial class SocketCalls
{
    public static int AF_INET
    {
        get
        {
            Debug.Assert(TargetPlatform.IsWindows);
            return Winsock.AF_INET;
        }
    }

    public static int AF_INET6
    {
        get
        {
            Debug.Assert(TargetPlatform.IsWindows);
            return Winsock.AF_INET6;
        }
    }

    /// <summary>A Winsock result with its error mapped to errno.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CallResult Mapped(CallResult result)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        return result.Failed ? new CallResult(result.Value, WindowsErrors.ToErrno(result.Error)) : result;
    }

    private static CallResult Open(int family, bool stream)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        CallResult s = Winsock.Checked(Winsock.WSASocket(family, stream ? Winsock.SOCK_STREAM : Winsock.SOCK_DGRAM,
            stream ? Winsock.IPPROTO_TCP : Winsock.IPPROTO_UDP, null, 0,
            Winsock.WSA_FLAG_OVERLAPPED | Winsock.WSA_FLAG_NO_HANDLE_INHERIT));
        if (s.Failed)
            return Mapped(s);
        CallResult nonBlocking = MakeNonBlocking(s.Value);
        if (nonBlocking.Failed)
        {
            Winsock.closesocket(s.Value);
            return nonBlocking;
        }
        return s;
    }

    /// <summary>FIONBIO on (accepted sockets inherit nothing from the listener).</summary>
    public static CallResult MakeNonBlocking(nint s)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        uint on = 1;
        return Mapped(Winsock.Checked(Winsock.ioctlsocket(s, Winsock.FIONBIO, &on)));
    }

    public static void Close(nint s)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        Winsock.closesocket(s);
    }

    public static CallResult Bind(nint s, NetAddress* address)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        return Mapped(Winsock.Checked(Winsock.bind(s, address, (int)address->Length)));
    }

    public static CallResult Listen(nint s)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        return Mapped(Winsock.Checked(Winsock.listen(s, Winsock.SOMAXCONN)));
    }

    /// <summary>Sets a UDP socket's peer (TCP connects with ConnectEx, IocpSocketOperations).</summary>
    public static CallResult Connect(nint s, NetAddress* address)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        return Mapped(Winsock.Checked(Winsock.connect(s, address, (int)address->Length)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CallResult Receive(nint s, byte* buffer, int length)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        return Mapped(Winsock.Checked(Winsock.recv(s, buffer, length, 0)));
    }

    /// <summary>Sends (Windows has no SIGPIPE to avoid).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CallResult Send(nint s, byte* data, int length)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        return Mapped(Winsock.Checked(Winsock.send(s, data, length, 0)));
    }

    public static CallResult ShutdownSend(nint s)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        return Mapped(Winsock.Checked(Winsock.shutdown(s, Winsock.SD_SEND)));
    }

    public static void SetNoDelay(nint s)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        Winsock.SetIntOption(s, Winsock.IPPROTO_TCP, Winsock.TCP_NODELAY, 1);
    }

    /// <summary>Nothing: Windows binds past TIME_WAIT without it, and its SO_REUSEADDR would let
    /// another socket steal the port.</summary>
    public static void SetReuseAddress(nint s)
    {
    }

    /// <summary>Nothing: Windows has no SO_REUSEPORT (its SO_REUSEADDR does not balance), which
    /// is why <c>[server] workers</c> is refused there.</summary>
    public static void SetReusePort(nint s)
    {
    }

    /// <summary>An IPv6 socket that also takes IPv4 (mapped addresses).</summary>
    public static void SetDualStack(nint s)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        Winsock.SetIntOption(s, Winsock.IPPROTO_IPV6, Winsock.IPV6_V6ONLY, 0);
    }

    public static void SetBroadcast(nint s, bool on)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        Winsock.SetIntOption(s, Winsock.SOL_SOCKET, Winsock.SO_BROADCAST, on ? 1 : 0);
    }

    /// <summary>SO_LINGER 0: the close that follows sends a reset instead of a FIN.</summary>
    public static void SetAbortiveClose(nint s)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        var option = new Winsock.linger { l_onoff = 1, l_linger = 0 };
        Winsock.setsockopt(s, Winsock.SOL_SOCKET, Winsock.SO_LINGER, &option, sizeof(Winsock.linger));
    }

    /// <summary>SO_ERROR: the pending error of a socket, as an errno value (0: none).</summary>
    public static int PendingError(nint s)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        int error = 0;
        int length = sizeof(int);
        Winsock.getsockopt(s, Winsock.SOL_SOCKET, Winsock.SO_ERROR, &error, &length);
        return WindowsErrors.ToErrno(error);
    }

    /// <summary>-1: Windows does not tell how much the kernel still holds for the peer.</summary>
    public static int UnsentBytes(nint s) => -1;

    /// <summary>getsockname / getpeername into <paramref name="address"/>; false on failure.</summary>
    public static bool GetName(nint s, bool peer, NetAddress* address)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        int length = sizeof(NetAddress);
        return (peer ? Winsock.getpeername(s, address, &length) : Winsock.getsockname(s, address, &length)) == 0;
    }
}
