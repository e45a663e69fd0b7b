using System;

namespace MonaAot.Reactor;

/// <summary>What a backend reports about a handle, in neutral terms.</summary>
[Flags]
public enum IoEvents : uint
{
    None = 0,
    Readable = 1,
    Writable = 2,
    /// <summary>The handle has a pending error (read it with SO_ERROR / the completion status).</summary>
    Error = 4,
    /// <summary>The peer closed or the handle hung up.</summary>
    Closed = 8,
    /// <summary>A submitted operation finished (completion backends: IOCP).</summary>
    Completed = 16,
}

/// <summary>
/// One event out of the backend, completion-shaped so that both kinds of backend fit: a
/// readiness backend (epoll) sets <see cref="Events"/> to what became ready and leaves
/// <see cref="Result"/> 0; a completion backend (IOCP) sets <see cref="IoEvents.Completed"/> and
/// puts the bytes transferred (or a negative error) in <see cref="Result"/>. The token is the
/// integer the handle was attached with, never an object reference.
/// </summary>
public readonly struct IoEvent(ulong token, IoEvents events, int result = 0, nint data = 0)
{
    public ulong Token { get; } = token;
    public IoEvents Events { get; } = events;
    public int Result { get; } = result;

    /// <summary>What a completion brought besides a count: the accepted socket of an accept.</summary>
    public nint Data { get; } = data;
}
