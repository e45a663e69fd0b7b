using System.Runtime.InteropServices;
using MonaAot.Diagnostics;
using MonaAot.Interop;

namespace MonaAot.Net;

/// <summary>What a failed socket call means: the peer, the network or the machine's limits
/// (<see cref="Expected"/>: the script hears of it, nothing else happens), or a call MonaAot
/// should never have made that way (<see cref="Bug"/>: logged at ERROR as well).</summary>
public enum NetErrorKind
{
    Expected,
    Bug,
}

/// <summary>
/// Runtime failures as the one readable line docs/api.md ("Conventions") promises, e.g.
/// "connection refused (127.0.0.1:9)". Built only when a failure happens, never per message.
/// Every errno a socket call returns is classified here, once (<see cref="Classify"/>), as
/// Kestrel's socket transport does with its IsConnectionResetError/IsConnectionAbortError.
/// </summary>
public static class NetError
{
    /// <summary>In the ERROR line of a <see cref="NetErrorKind.Bug"/>; the tests fail on it.</summary>
    public const string BugMarker = "a bug in MonaAot";

    public static string Describe(int errno) => errno switch
    {
        Libc.ECONNREFUSED => "connection refused",
        Libc.ECONNRESET => "connection reset by peer",
        Libc.EPIPE => "connection reset by peer",
        Libc.ECONNABORTED => "connection aborted",
        Libc.ETIMEDOUT => "connection timed out",
        Libc.ENETUNREACH => "network unreachable",
        Libc.EHOSTUNREACH => "host unreachable",
        Libc.EADDRINUSE => "address in use",
        Libc.EADDRNOTAVAIL => "address not available",
        Libc.EACCES => "permission denied",
        Libc.EMFILE => "too many open files",
        Libc.ENFILE => "too many open files in the system",
        Libc.EAFNOSUPPORT => "address family not supported",
        // glibc's own words, written out for Windows, where these values arrive mapped from
        // Winsock codes (WindowsErrors) and the system's message for the number is another's.
        Libc.ENETDOWN => "network is down",
        Libc.ENETRESET => "network dropped connection on reset",
        Libc.ENOTCONN => "transport endpoint is not connected",
        Libc.EHOSTDOWN => "host is down",
        Libc.ENOBUFS => "no buffer space available",
        Libc.ENOMEM => "cannot allocate memory",
        Libc.EMSGSIZE => "message too long",
        _ => LowerFirst(Marshal.GetPInvokeErrorMessage(errno)),
    };

    public static string Describe(int errno, string address) => $"{Describe(errno)} ({address})";

    /// <summary>
    /// <see cref="Describe(int, string)"/> (or without an address when it is null), and when
    /// <paramref name="errno"/> is a <see cref="NetErrorKind.Bug"/>, one ERROR line on
    /// <paramref name="logger"/> naming the call, the descriptor and the errno. The caller ends
    /// what failed with the text as for any other error: a bug never crashes the server.
    /// </summary>
    public static string Describe(Logger logger, string operation, nint fd, int errno, string? address)
    {
        if (Classify(errno) == NetErrorKind.Bug)
            logger.Error($"internal error: {operation} on fd {fd} failed with {Name(errno)} ({BugMarker})");
        return address is null ? Describe(errno) : Describe(errno, address);
    }

    /// <summary>
    /// Expected: what the peer, the network, the script's addresses or the machine's limits
    /// cause, whatever MonaAot does. Bug: anything else, first of all what only a wrong call
    /// gives (EBADF, ENOTSOCK, EFAULT, EINVAL, EOPNOTSUPP, EISCONN, EDESTADDRREQ), and the
    /// values callers handle before describing (EAGAIN, EINTR, EINPROGRESS). Windows codes
    /// come mapped by <see cref="WindowsErrors"/>; one it leaves as it is counts as a bug.
    /// </summary>
    public static NetErrorKind Classify(int errno) => errno switch
    {
        // The peer reset the connection, or closed it before a send (EPIPE: Linux's word when
        // the reset came first; MSG_NOSIGNAL keeps it from being a signal).
        Libc.ECONNRESET or Libc.EPIPE => NetErrorKind.Expected,
        // Linux: a connection reset while it waited in the accept queue. Windows: the local
        // stack gave up on it (WSAECONNABORTED: retransmissions or keep-alives unanswered, or a
        // send to a peer that reset); ERROR_CONNECTION_ABORTED is a completion's word for it.
        Libc.ECONNABORTED => NetErrorKind.Expected,
        // The connect timeout (TcpConnection sets it itself), or retransmissions unanswered.
        Libc.ETIMEDOUT => NetErrorKind.Expected,
        // Refused or unreachable: a connect's answer, or an ICMP report about a UDP peer (on
        // Windows a port unreachable comes as a reset, which UdpSocket turns into a refusal).
        Libc.ECONNREFUSED or Libc.EHOSTUNREACH or Libc.ENETUNREACH or Libc.EHOSTDOWN => NetErrorKind.Expected,
        // The interface or the network went away under the socket (a cable, a VPN, a container
        // network torn down); EPROTO and ENONET are what accept4 passes on of such a failure.
        Libc.ENETDOWN or Libc.ENETRESET or Libc.ENONET or Libc.EPROTO => NetErrorKind.Expected,
        // A call on a stream the peer's reset has already ended (shutdown, getpeername, a send
        // racing the reset on Windows: WSAENOTCONN).
        Libc.ENOTCONN => NetErrorKind.Expected,
        // The script's addresses: a port taken or privileged, an address not on this machine,
        // a broadcast without SO_BROADCAST (EACCES), a packet a firewall rule refused (EPERM),
        // IPv6 off on this host or an IPv6 peer for an IPv4 socket, a multicast interface gone.
        Libc.EADDRINUSE or Libc.EADDRNOTAVAIL or Libc.EACCES or Libc.EPERM => NetErrorKind.Expected,
        Libc.EAFNOSUPPORT or Libc.ENODEV => NetErrorKind.Expected,
        // A datagram larger than the route or the socket buffer takes.
        Libc.EMSGSIZE => NetErrorKind.Expected,
        // The machine's limits: memory, socket buffers, descriptors.
        Libc.ENOBUFS or Libc.ENOMEM or Libc.EMFILE or Libc.ENFILE => NetErrorKind.Expected,
        _ => NetErrorKind.Bug,
    };

    /// <summary>The symbolic name of <paramref name="errno"/>, for the ERROR line of a bug.</summary>
    public static string Name(int errno) => errno switch
    {
        Libc.EPERM => "EPERM",
        Libc.EINTR => "EINTR",
        Libc.EBADF => "EBADF",
        Libc.EAGAIN => "EAGAIN",
        Libc.ENOMEM => "ENOMEM",
        Libc.EACCES => "EACCES",
        Libc.EFAULT => "EFAULT",
        Libc.ENODEV => "ENODEV",
        Libc.EINVAL => "EINVAL",
        Libc.ENFILE => "ENFILE",
        Libc.EMFILE => "EMFILE",
        Libc.EPIPE => "EPIPE",
        Libc.ENONET => "ENONET",
        Libc.EPROTO => "EPROTO",
        Libc.ENOTSOCK => "ENOTSOCK",
        Libc.EDESTADDRREQ => "EDESTADDRREQ",
        Libc.EMSGSIZE => "EMSGSIZE",
        Libc.EPROTOTYPE => "EPROTOTYPE",
        Libc.ENOPROTOOPT => "ENOPROTOOPT",
        Libc.EPROTONOSUPPORT => "EPROTONOSUPPORT",
        Libc.EOPNOTSUPP => "EOPNOTSUPP",
        Libc.EAFNOSUPPORT => "EAFNOSUPPORT",
        Libc.EADDRINUSE => "EADDRINUSE",
        Libc.EADDRNOTAVAIL => "EADDRNOTAVAIL",
        Libc.ENETDOWN => "ENETDOWN",
        Libc.ENETUNREACH => "ENETUNREACH",
        Libc.ENETRESET => "ENETRESET",
        Libc.ECONNABORTED => "ECONNABORTED",
        Libc.ECONNRESET => "ECONNRESET",
        Libc.ENOBUFS => "ENOBUFS",
        Libc.EISCONN => "EISCONN",
        Libc.ENOTCONN => "ENOTCONN",
        Libc.ETIMEDOUT => "ETIMEDOUT",
        Libc.ECONNREFUSED => "ECONNREFUSED",
        Libc.EHOSTDOWN => "EHOSTDOWN",
        Libc.EHOSTUNREACH => "EHOSTUNREACH",
        Libc.EALREADY => "EALREADY",
        Libc.EINPROGRESS => "EINPROGRESS",
        _ => $"error {errno}", // a Windows code WindowsErrors leaves as it is, or a rare errno
    };

    private static string LowerFirst(string text) =>
        text.Length > 0 && char.IsUpper(text[0]) ? char.ToLowerInvariant(text[0]) + text[1..] : text;
}
