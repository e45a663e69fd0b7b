using System.Runtime.Versioning;

namespace MonaAot.Interop;

/// <summary>
/// Windows socket errors (the WSA codes of calls and the system codes of completions) as the
/// Linux errno values the rest of the code speaks (<see cref="Libc"/>'s): the reactor's IOCP
/// backend maps its completions' codes with it, the socket code its calls' codes. A code without
/// an equivalent is kept as it is: Net/NetError.cs then describes it with the system's own
/// message, and classifies it as a bug (every code the peer or the network can cause is mapped
/// here). It lives with the interop declarations, below both layers that use it.
/// </summary>
[SupportedOSPlatform("windows")]
internal static class WindowsErrors
{
    public static int ToErrno(int code) => code switch
    {
        0 => 0,
        Winsock.WSAEWOULDBLOCK or Winsock.WSAEINPROGRESS => Libc.EAGAIN,
        Winsock.WSAEINTR => Libc.EINTR,
        Winsock.WSAEACCES => Libc.EACCES,
        Winsock.WSAEINVAL => Libc.EINVAL,
        Winsock.WSAEMFILE => Libc.EMFILE,
        Winsock.WSAENOBUFS => Libc.ENOBUFS,
        Winsock.ERROR_NOT_ENOUGH_MEMORY => Libc.ENOMEM,
        Winsock.WSAEMSGSIZE => Libc.EMSGSIZE,
        Winsock.WSAEAFNOSUPPORT => Libc.EAFNOSUPPORT,
        Winsock.WSAEADDRINUSE => Libc.EADDRINUSE,
        Winsock.WSAEADDRNOTAVAIL => Libc.EADDRNOTAVAIL,
        Winsock.WSAENETUNREACH or Winsock.ERROR_NETWORK_UNREACHABLE => Libc.ENETUNREACH,
        Winsock.WSAEHOSTUNREACH or Winsock.ERROR_HOST_UNREACHABLE => Libc.EHOSTUNREACH,
        Winsock.WSAECONNABORTED or Winsock.ERROR_CONNECTION_ABORTED => Libc.ECONNABORTED,
        Winsock.WSAECONNRESET or Winsock.ERROR_NETNAME_DELETED or Winsock.WSAESHUTDOWN => Libc.ECONNRESET,
        // The network under the socket went away, or a reset ended the stream before this call
        // (NetError counts these as expected: unmapped, they would read as bugs).
        Winsock.WSAENETDOWN => Libc.ENETDOWN,
        Winsock.WSAENETRESET => Libc.ENETRESET,
        Winsock.WSAENOTCONN => Libc.ENOTCONN,
        Winsock.WSAEHOSTDOWN => Libc.EHOSTDOWN,
        Winsock.WSAETIMEDOUT or Winsock.ERROR_SEM_TIMEOUT => Libc.ETIMEDOUT,
        Winsock.WSAECONNREFUSED or Winsock.ERROR_CONNECTION_REFUSED or Winsock.ERROR_PORT_UNREACHABLE => Libc.ECONNREFUSED,
        _ => code,
    };
}
