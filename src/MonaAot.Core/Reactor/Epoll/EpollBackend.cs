using System;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading;
using MonaAot.Interop;

namespace MonaAot.Reactor.Epoll;

/// <summary>
/// The Linux backend: level-triggered epoll plus an eventfd for the cross-thread wake. The
/// eventfd is registered with token 0, which no handle ever gets, and is drained here.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed unsafe class EpollBackend : IIoBackend
{
    private const int MaxEventsPerWait = 256;
    private int _epfd; // -1 once disposed: its number may belong to another loop's epoll then
    private readonly int _wakeFd;
    // Native memory: the kernel writes here during a blocking epoll_wait, which a managed array
    // would have to stay pinned across (fragmenting the GC heap for as long as the loop idles).
    private Libc.epoll_event* _ready;
    // Wake may come from any thread at any time, also after Dispose (a resolver or mail
    // continuation that posts late). The lock orders each write against the close: no write
    // reaches the number once it is closed, where a new descriptor may have taken it.
    private readonly Lock _wakeLock = new();
    private bool _wakeClosed;

    public EpollBackend()
    {
        CallResult epfd = Libc.Checked(Libc.epoll_create1(Libc.EPOLL_CLOEXEC));
        if (epfd.Failed)
            throw new InvalidOperationException($"epoll_create1 failed (errno {epfd.Error})");
        CallResult wakeFd = Libc.Checked(Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK));
        if (wakeFd.Failed)
        {
            Libc.close((int)epfd.Value);
            throw new InvalidOperationException($"eventfd failed (errno {wakeFd.Error})");
        }
        _epfd = (int)epfd.Value;
        _wakeFd = (int)wakeFd.Value;
        _ready = (Libc.epoll_event*)NativeMemory.Alloc(MaxEventsPerWait, (nuint)sizeof(Libc.epoll_event));
        Attach(_wakeFd, 0, IoEvents.Readable);
    }

    /// <summary>The eventfd's number, for the tests that check nothing is written to it late.</summary>
    internal int WakeDescriptor => _wakeFd;

    /// <summary>Fails (ENOMEM, ENOSPC: the user's max_user_watches) with an exception: the caller
    /// (NetContext.Attach) closes the descriptor and reports it.</summary>
    public void Attach(nint handle, ulong token, IoEvents interest)
    {
        int errno = Control(Libc.EPOLL_CTL_ADD, (int)handle, token, interest);
        if (errno != 0)
            throw new InvalidOperationException($"epoll_ctl(ADD, fd {handle}) failed (errno {errno})");
    }

    /// <summary>EPOLL_CTL_MOD cannot run out of memory: a failure (EBADF, ENOENT) means the
    /// caller changes a descriptor it does not hold, a bug that throws.</summary>
    public void Change(nint handle, ulong token, IoEvents interest)
    {
        int errno = Control(Libc.EPOLL_CTL_MOD, (int)handle, token, interest);
        if (errno != 0)
            throw new InvalidOperationException($"epoll_ctl(MOD, fd {handle}) failed (errno {errno})");
    }

    /// <summary>Never fails: a descriptor epoll does not know (ENOENT), or one closed behind the
    /// loop's back (EBADF), has nothing to stop watching, and the close that follows must
    /// happen whatever. libuv (uv__platform_invalidate_fd) and redis (aeApiDelEvent) ignore
    /// EPOLL_CTL_DEL's result the same way.</summary>
    public void Detach(nint handle) => Control(Libc.EPOLL_CTL_DEL, (int)handle, 0, IoEvents.None);

    /// <summary>Nothing: epoll drops a registration when the last descriptor of its open file is
    /// closed (epoll(7)), which for a socket only this process holds, opened with CLOEXEC, is
    /// the close that follows. EPOLL_CTL_DEL there was one system call per connection more
    /// than the C reference makes (docs/performance.md, "Issue 19: CPU per message"). A child
    /// between fork and exec may hold the file a moment longer: its events then carry a removed
    /// token, which the loop drops as stale (HandleTable).</summary>
    public void Forget(nint handle)
    {
    }

    public int Wait(Span<IoEvent> events, int timeoutMs)
    {
        int max = Math.Min(events.Length, MaxEventsPerWait);
        CallResult n = Libc.Checked(Libc.epoll_wait(_epfd, _ready, max, timeoutMs));
        if (n.Failed)
        {
            if (n.Error == Libc.EINTR)
                return 0;
            // The loop cannot go on without its poller: a broken invariant, not a runtime error.
            Environment.FailFast($"epoll_wait failed (errno {n.Error})");
        }
        int count = 0;
        for (int i = 0; i < n.Value; i++)
        {
            Libc.epoll_event* ev = _ready + i;
            if (ev->data == 0)
            {
                DrainWake();
                continue;
            }
            events[count++] = new IoEvent(ev->data, ToIoEvents(ev->events));
        }
        return count;
    }

    /// <summary>Any thread, also after <see cref="Dispose"/> (then it does nothing).</summary>
    public void Wake()
    {
        ulong one = 1;
        lock (_wakeLock)
        {
            if (_wakeClosed)
                return;
            // EAGAIN means the counter is already non-zero: the loop is woken either way.
            Libc.write(_wakeFd, &one, sizeof(ulong));
        }
    }

    /// <summary>Loop thread, once the loop has stopped; a second call does nothing.</summary>
    public void Dispose()
    {
        lock (_wakeLock)
        {
            if (_wakeClosed)
                return;
            _wakeClosed = true;
            Libc.close(_wakeFd);
        }
        if (_epfd >= 0)
            Libc.close(_epfd);
        _epfd = -1;
        NativeMemory.Free(_ready);
        _ready = null;
    }

    private void DrainWake()
    {
        ulong value;
        Libc.read(_wakeFd, &value, sizeof(ulong));
    }

    /// <summary>One epoll_ctl; returns 0 or its errno (EBADF once disposed).</summary>
    private int Control(int op, int fd, ulong token, IoEvents interest)
    {
        if (_epfd < 0)
            return Libc.EBADF;
        var ev = new Libc.epoll_event { events = ToEpoll(interest), data = token };
        return Libc.Checked(Libc.epoll_ctl(_epfd, op, fd, &ev)).Error;
    }

    /// <summary>No interest is edge-triggered: epoll reports hang-ups and errors whatever the mask,
    /// and level-triggered it would report them on every wait to a handle that does not want
    /// to read (a paused or half-closed connection) until it does.</summary>
    private static uint ToEpoll(IoEvents interest)
    {
        if (interest == IoEvents.None)
            return Libc.EPOLLET;
        uint events = 0;
        if ((interest & IoEvents.Readable) != 0) events |= Libc.EPOLLIN | Libc.EPOLLRDHUP;
        if ((interest & IoEvents.Writable) != 0) events |= Libc.EPOLLOUT;
        return events;
    }

    private static IoEvents ToIoEvents(uint events)
    {
        IoEvents result = IoEvents.None;
        if ((events & Libc.EPOLLIN) != 0) result |= IoEvents.Readable;
        if ((events & Libc.EPOLLOUT) != 0) result |= IoEvents.Writable;
        if ((events & Libc.EPOLLERR) != 0) result |= IoEvents.Error;
        if ((events & (Libc.EPOLLHUP | Libc.EPOLLRDHUP)) != 0) result |= IoEvents.Closed;
        return result;
    }
}
