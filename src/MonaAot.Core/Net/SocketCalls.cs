using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MonaAot.Interop;

namespace MonaAot.Net;

/// <summary>
/// The socket calls the connection, listener and address code make, in one vocabulary on both
/// systems: a socket is an <c>nint</c> handle (a descriptor on Linux, a SOCKET on Windows),
/// sockets are non-blocking and not inherited, and a failure returns -1 with
/// <see cref="LastError"/> holding a Linux errno value (Windows codes are mapped by
/// <see cref="WindowsErrors"/>), so that the logic above, and its messages, are written once.
/// Each call is one branch on the OS, which the compiler folds away for the target; the calls
/// only Windows makes (overlapped operations) live in the IOCP backend.
/// </summary>
internal static unsafe class SocketCalls
{
    public static int AF_INET => OperatingSystem.IsWindows() ? Winsock.AF_INET : Libc.AF_INET;

    public static int AF_INET6 => OperatingSystem.IsWindows() ? Winsock.AF_INET6 : Libc.AF_INET6;

    /// <summary>The error of the call that just failed, as a Linux errno value.</summary>
    public static int LastError => OperatingSystem.IsWindows() ? WindowsErrors.ToErrno(Winsock.LastError) : Libc.LastErrno;

    /// <summary>A non-blocking TCP socket (overlapped-capable on Windows); -1 on failure.</summary>
    public static nint OpenStream(int family) => Open(family, stream: true);

    /// <summary>A non-blocking UDP socket; -1 on failure.</summary>
    public static nint OpenDatagram(int family) => Open(family, stream: false);

    private static nint Open(int family, bool stream)
    {
        if (OperatingSystem.IsWindows())
        {
            nint s = Winsock.WSASocket(family, stream ? Winsock.SOCK_STREAM : Winsock.SOCK_DGRAM,
                stream ? Winsock.IPPROTO_TCP : Winsock.IPPROTO_UDP, null, 0,
                Winsock.WSA_FLAG_OVERLAPPED | Winsock.WSA_FLAG_NO_HANDLE_INHERIT);
            if (s == Winsock.INVALID_SOCKET)
                return -1;
            if (!MakeNonBlocking(s))
            {
                int error = Winsock.LastError;
                Winsock.closesocket(s);
                Marshal.SetLastPInvokeError(error);
                return -1;
            }
            return s;
        }
        return Libc.socket(family, (stream ? Libc.SOCK_STREAM : Libc.SOCK_DGRAM) | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
    }

    /// <summary>Windows: FIONBIO on (accepted sockets inherit nothing from the listener).</summary>
    public static bool MakeNonBlocking(nint s)
    {
        if (!OperatingSystem.IsWindows())
            return true; // made so at creation (SOCK_NONBLOCK)
        uint on = 1;
        return Winsock.ioctlsocket(s, Winsock.FIONBIO, &on) == 0;
    }

    public static int Close(nint s) => OperatingSystem.IsWindows() ? Winsock.closesocket(s) : Libc.close((int)s);

    public static int Bind(nint s, NetAddress* address) =>
        OperatingSystem.IsWindows() ? Winsock.bind(s, address, (int)address->Length) : Libc.bind((int)s, address, address->Length);

    public static int Listen(nint s) =>
        OperatingSystem.IsWindows() ? Winsock.listen(s, Winsock.SOMAXCONN) : Libc.listen((int)s, Libc.SOMAXCONN);

    /// <summary>Starts a TCP connect (Linux only: on Windows TCP connects with ConnectEx through
    /// the backend), or sets a UDP socket's peer (both systems).</summary>
    public static int Connect(nint s, NetAddress* address) =>
        OperatingSystem.IsWindows() ? Winsock.connect(s, address, (int)address->Length) : Libc.connect((int)s, address, address->Length);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nint Receive(nint s, byte* buffer, int length) =>
        OperatingSystem.IsWindows() ? Winsock.recv(s, buffer, length, 0) : Libc.recv((int)s, buffer, (nuint)length, 0);

    /// <summary>Sends without raising SIGPIPE (Linux: MSG_NOSIGNAL; Windows has no such signal).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nint Send(nint s, byte* data, int length) =>
        OperatingSystem.IsWindows() ? Winsock.send(s, data, length, 0) : Libc.send((int)s, data, (nuint)length, Libc.MSG_NOSIGNAL);

    public static int ShutdownSend(nint s) =>
        OperatingSystem.IsWindows() ? Winsock.shutdown(s, Winsock.SD_SEND) : Libc.shutdown((int)s, Libc.SHUT_WR);

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
