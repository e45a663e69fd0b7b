using System.Runtime.InteropServices;

namespace MonaAot.Net;

/// <summary>
/// What native code needs to send on a connection without entering C#: the send fields of
/// mona_handle (native/shim/mona_binding.h), inside the Lua userdata of a TCPClient. The
/// connection keeps <see cref="Direct"/> at 1 exactly while it is connected with nothing
/// queued, so that a direct send(2) can never overtake queued bytes; anything else goes
/// through the C# path, which reads and clears <see cref="Partial"/> first.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct SendState
{
    public int Fd;
    public int Direct;
    /// <summary>Bytes of the current send that a short direct send(2) already delivered.</summary>
    public int Partial;
    /// <summary>Direct sends made (wrapping): activity the idle sweeper can see.</summary>
    public uint Sends;
}
