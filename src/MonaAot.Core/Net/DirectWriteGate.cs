using System.Runtime.InteropServices;

namespace MonaAot.Net;

/// <summary>
/// A block of native memory through which code outside C# may write to a connection's socket
/// itself, without a call into the connection. Whoever wants such writes owns the block and
/// hands it to <see cref="TcpConnection.ShareGate"/>; the connection keeps <see cref="Direct"/>
/// at 1 (and <see cref="Fd"/> valid) exactly while it is connected with nothing queued, so that
/// a direct write can never overtake queued bytes nor reach a connection that is ending or
/// closed. A writer that finds the gate shut, or whose write was short, goes through
/// <see cref="TcpConnection.Send"/>, after recording in <see cref="Partial"/> what it wrote.
/// Sequential and of fixed layout: native code reads and writes these fields in place.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct DirectWriteGate
{
    /// <summary>The descriptor (on Windows the SOCKET, which fits in 32 bits) while
    /// <see cref="Direct"/> is 1, else -1.</summary>
    public int Fd;
    /// <summary>1 while a direct write is safe: connected, nothing queued, no shutdown asked.</summary>
    public int Direct;
    /// <summary>Bytes of the current write that a short direct write already delivered; the
    /// writer's C# path reads it, skips them and clears it.</summary>
    public int Partial;
    /// <summary>Direct writes made (wrapping): activity the idle sweeper can see.</summary>
    public uint Sends;
}
