using MonaAot.Interop;

namespace MonaAot.Net;

/// <summary>
/// The socket calls the connection, listener and address code make, in one vocabulary on both
/// systems: a socket is an <c>nint</c> handle (a descriptor on Linux, a SOCKET on Windows),
/// sockets are non-blocking and not inherited, and a call that can fail returns a
/// <see cref="CallResult"/>: a negative value with its error as a Linux errno value (Windows
/// codes are mapped by <see cref="WindowsErrors"/>), taken in the same expression as the call,
/// so that the logic above, and its messages, are written once, and no caller can read the
/// error late. Each system's half is its own file, chosen by the project file
/// (SocketCalls.Unix.cs, SocketCalls.Windows.cs); the calls only Windows makes (overlapped
/// operations) live in IocpSocketOperations.Windows.cs.
/// </summary>
internal static unsafe partial class SocketCalls
{
    /// <summary>A non-blocking TCP socket (overlapped-capable on Windows) in its Value.</summary>
    public static CallResult OpenStream(int family) => Open(family, stream: true);

    /// <summary>A non-blocking UDP socket in its Value.</summary>
    public static CallResult OpenDatagram(int family) => Open(family, stream: false);
}
