using System;

namespace MonaAot.Reactor;

/// <summary>
/// The seam between the loop and the OS (epoll on Linux, IOCP on Windows). It is kept tiny and
/// neutral: a backend knows handles and integer tokens, never what a TCP server or a Lua object
/// is. All members but <see cref="Wake"/> are called on the loop thread only.
/// </summary>
public interface IIoBackend : IDisposable
{
    /// <summary>Starts watching <paramref name="handle"/> for <paramref name="interest"/>.</summary>
    void Attach(nint handle, ulong token, IoEvents interest);

    /// <summary>Changes what an attached handle is watched for.</summary>
    void Change(nint handle, ulong token, IoEvents interest);

    /// <summary>Stops watching a handle (before it is closed). Never fails: a close must go on
    /// whatever the OS says about a handle it no longer knows.</summary>
    void Detach(nint handle);

    /// <summary>Stops watching a handle that is about to be closed and that nothing outside this
    /// process shares (a connection's socket). A backend whose registrations end with the handle
    /// (epoll) does nothing here; the others detach.</summary>
    void Forget(nint handle) => Detach(handle);

    /// <summary>
    /// Waits at most <paramref name="timeoutMs"/> (-1: no limit) for events, writes them to
    /// <paramref name="events"/> and returns how many. Returns early, possibly with 0 events,
    /// after <see cref="Wake"/>.
    /// </summary>
    int Wait(Span<IoEvent> events, int timeoutMs);

    /// <summary>Makes a current or next <see cref="Wait"/> return. Thread-safe, and a no-op once
    /// the backend is disposed: it never touches a handle after closing it.</summary>
    void Wake();

    /// <summary>Releases what an event carried (an accepted socket) when its handler was
    /// removed before the event could be dispatched.</summary>
    void Discard(in IoEvent ev) { }
}

/// <summary>Something attached to the backend: the loop routes its events here by token.</summary>
public interface IIoHandler
{
    void OnIo(in IoEvent ev);
}
