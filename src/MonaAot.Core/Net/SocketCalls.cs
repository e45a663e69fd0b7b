using System;
using System.Runtime.CompilerServices;
using MonaAot.Interop;

namespace MonaAot.Net;

/// <summary>
/// The socket calls the connection, listener and address code make, in one vocabulary on both
/// systems: a socket is an <c>nint</c> handle (a descriptor on Linux, a SOCKET on Windows),
/// sockets are non-blocking and not inherited, and a call that can fail returns a
/// <see cref="CallResult"/>: a negative value with its error as a Linux errno value (Windows
/// codes are mapped by <see cref="WindowsErrors"/>), taken in the same expression as the call,
/// so that the logic above, and its messages, are written once, and no caller can read the
/// error late.
/// Each call is one branch on the OS, which the compiler folds away for the target; the calls
/// only Windows makes (overlapped operations) live in the IOCP backend.
/// </summary>
internal static unsafe class SocketCalls
{
    public static int AF_INET => OperatingSystem.IsWindows() ? Winsock.AF_INET : Libc.AF_INET;

    public static int AF_INET6 => OperatingSystem.IsWindows() ? Winsock.AF_INET6 : Libc.AF_INET6;

    /// <summary>A Winsock result with its error mapped to errno, so both systems answer alike.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [System.Runtime.Versioning.SupportedOSPlatform("windows")]
    public static CallResult Mapped(CallResult result) =>
        result.Failed ? new CallResult(result.Value, WindowsErrors.ToErrno(result.Error)) : result;

    /// <summary>A non-blocking TCP socket (overlapped-capable on Windows) in its Value.</summary>
    public static CallResult OpenStream(int family) => Open(family, stream: true);

    /// <summary>A non-blocking UDP socket in its Value.</summary>
    public static CallResult OpenDatagram(int family) => Open(family, stream: false);

    private static CallResult Open(int family, bool stream)
    {
        if (OperatingSystem.IsWindows())
        {
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
        return Libc.Checked(Libc.socket(family, (stream ? Libc.SOCK_STREAM : Libc.SOCK_DGRAM) | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0));
    }

    /// <summary>Windows: FIONBIO on (accepted sockets inherit nothing from the listener).</summary>
    public static CallResult MakeNonBlocking(nint s)
    {
        if (!OperatingSystem.IsWindows())
            return default; // made so at creation (SOCK_NONBLOCK)
        uint on = 1;
        return Mapped(Winsock.Checked(Winsock.ioctlsocket(s, Winsock.FIONBIO, &on)));
    }

    /// <summary>Closes; the result is not worth a check (on Linux the descriptor is gone even
    /// when close reports EINTR or EIO).</summary>
    public static void Close(nint s)
    {
        if (OperatingSystem.IsWindows())
            Winsock.closesocket(s);
        else
            Libc.close((int)s);
    }

    public static CallResult Bind(nint s, NetAddress* address) =>
        OperatingSystem.IsWindows()
            ? Mapped(Winsock.Checked(Winsock.bind(s, address, (int)address->Length)))
            : Libc.Checked(Libc.bind((int)s, address, address->Length));

    public static CallResult Listen(nint s) =>
        OperatingSystem.IsWindows()
            ? Mapped(Winsock.Checked(Winsock.listen(s, Winsock.SOMAXCONN)))
            : Libc.Checked(Libc.listen((int)s, Libc.SOMAXCONN));

    /// <summary>Starts a TCP connect (Linux only: on Windows TCP connects with ConnectEx through
    /// the backend), or sets a UDP socket's peer (both systems).</summary>
    public static CallResult Connect(nint s, NetAddress* address) =>
        OperatingSystem.IsWindows()
            ? Mapped(Winsock.Checked(Winsock.connect(s, address, (int)address->Length)))
            : Libc.Checked(Libc.connect((int)s, address, address->Length));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CallResult Receive(nint s, byte* buffer, int length) =>
        OperatingSystem.IsWindows()
            ? Mapped(Winsock.Checked(Winsock.recv(s, buffer, length, 0)))
            : Libc.Checked(Libc.recv((int)s, buffer, (nuint)length, 0));

    /// <summary>Sends without raising SIGPIPE (Linux: MSG_NOSIGNAL; Windows has no such signal).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static CallResult Send(nint s, byte* data, int length) =>
        OperatingSystem.IsWindows()
            ? Mapped(Winsock.Checked(Winsock.send(s, data, length, 0)))
            : Libc.Checked(Libc.send((int)s, data, (nuint)length, Libc.MSG_NOSIGNAL));

    public static CallResult ShutdownSend(nint s) =>
        OperatingSystem.IsWindows()
            ? Mapped(Winsock.Checked(Winsock.shutdown(s, Winsock.SD_SEND)))
            : Libc.Checked(Libc.shutdown((int)s, Libc.SHUT_WR));

    public static void SetNoDelay(nint s)
    {
        if (OperatingSystem.IsWindows())
            Winsock.SetIntOption(s, Winsock.IPPROTO_TCP, Winsock.TCP_NODELAY, 1);
        else
            Libc.SetIntOption((int)s, Libc.IPPROTO_TCP, Libc.TCP_NODELAY, 1);
    }

    /// <summary>Linux: SO_REUSEADDR, so a restarted server binds past TIME_WAIT. Windows needs
    /// nothing for that, and its SO_REUSEADDR would let another socket steal the port.</summary>
    public static void SetReuseAddress(nint s)
    {
        if (!OperatingSystem.IsWindows())
            Libc.SetIntOption((int)s, Libc.SOL_SOCKET, Libc.SO_REUSEADDR, 1);
    }

    /// <summary>An IPv6 socket that also takes IPv4 (mapped addresses).</summary>
    public static void SetDualStack(nint s)
    {
        if (OperatingSystem.IsWindows())
            Winsock.SetIntOption(s, Winsock.IPPROTO_IPV6, Winsock.IPV6_V6ONLY, 0);
        else
            Libc.SetIntOption((int)s, Libc.IPPROTO_IPV6, Libc.IPV6_V6ONLY, 0);
    }

    public static void SetBroadcast(nint s, bool on)
    {
        if (OperatingSystem.IsWindows())
            Winsock.SetIntOption(s, Winsock.SOL_SOCKET, Winsock.SO_BROADCAST, on ? 1 : 0);
        else
            Libc.SetIntOption((int)s, Libc.SOL_SOCKET, Libc.SO_BROADCAST, on ? 1 : 0);
    }

    /// <summary>SO_LINGER 0: the close that follows sends a reset instead of a FIN.</summary>
    public static void SetAbortiveClose(nint s)
    {
        if (OperatingSystem.IsWindows())
        {
            var option = new Winsock.linger { l_onoff = 1, l_linger = 0 };
            Winsock.setsockopt(s, Winsock.SOL_SOCKET, Winsock.SO_LINGER, &option, sizeof(Winsock.linger));
        }
        else
        {
            var option = new Libc.linger { l_onoff = 1, l_linger = 0 };
            Libc.setsockopt((int)s, Libc.SOL_SOCKET, Libc.SO_LINGER, &option, (uint)sizeof(Libc.linger));
        }
    }

    /// <summary>SO_ERROR: the pending error of a socket, as an errno value (0: none).</summary>
    public static int PendingError(nint s)
    {
        int error = 0;
        if (OperatingSystem.IsWindows())
        {
            int length = sizeof(int);
            Winsock.getsockopt(s, Winsock.SOL_SOCKET, Winsock.SO_ERROR, &error, &length);
            return WindowsErrors.ToErrno(error);
        }
        uint size = sizeof(int);
        Libc.getsockopt((int)s, Libc.SOL_SOCKET, Libc.SO_ERROR, &error, &size);
        return error;
    }

    /// <summary>Bytes the kernel still holds for the peer (sent and not acknowledged, or not sent
    /// yet), or -1 where the system does not tell (Windows).</summary>
    public static int UnsentBytes(nint s)
    {
        if (OperatingSystem.IsWindows())
            return -1;
        int unsent;
        return Libc.ioctl((int)s, Libc.SIOCOUTQ, &unsent) == 0 ? unsent : -1;
    }

    /// <summary>getsockname / getpeername into <paramref name="address"/>; false on failure.</summary>
    public static bool GetName(nint s, bool peer, NetAddress* address)
    {
        if (OperatingSystem.IsWindows())
        {
            int length = sizeof(NetAddress);
            return (peer ? Winsock.getpeername(s, address, &length) : Winsock.getsockname(s, address, &length)) == 0;
        }
        uint size = (uint)sizeof(NetAddress);
        return (peer ? Libc.getpeername((int)s, address, &size) : Libc.getsockname((int)s, address, &size)) == 0;
    }
}
