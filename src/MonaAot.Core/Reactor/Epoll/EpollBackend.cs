using System;
using System.Runtime.Versioning;
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
    private readonly int _epfd;
    private readonly int _wakeFd;
    private readonly Libc.epoll_event[] _ready = new Libc.epoll_event[MaxEventsPerWait];

    public EpollBackend()
    {
        _epfd = Libc.epoll_create1(Libc.EPOLL_CLOEXEC);
        if (_epfd < 0)
            throw new InvalidOperationException($"epoll_create1 failed (errno {Libc.LastErrno})");
        _wakeFd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (_wakeFd < 0)
        {
            int errno = Libc.LastErrno;
            Libc.close(_epfd);
            throw new InvalidOperationException($"eventfd failed (errno {errno})");
        }
        Control(Libc.EPOLL_CTL_ADD, _wakeFd, 0, IoEvents.Readable);
    }

    public void Attach(nint handle, ulong token, IoEvents interest) => Control(Libc.EPOLL_CTL_ADD, (int)handle, token, interest);

    public void Change(nint handle, ulong token, IoEvents interest) => Control(Libc.EPOLL_CTL_MOD, (int)handle, token, interest);

    public void Detach(nint handle) => Control(Libc.EPOLL_CTL_DEL, (int)handle, 0, IoEvents.None);

    public int Wait(Span<IoEvent> events, int timeoutMs)
    {
        int max = Math.Min(events.Length, MaxEventsPerWait);
        int n;
        fixed (Libc.epoll_event* ready = _ready)
            n = Libc.epoll_wait(_epfd, ready, max, timeoutMs);
        if (n < 0)
        {
            int errno = Libc.LastErrno;
            if (errno == Libc.EINTR)
                return 0;
            // The loop cannot go on without its poller: a broken invariant, not a runtime error.
            Environment.FailFast($"epoll_wait failed (errno {errno})");
        }
        int count = 0;
        for (int i = 0; i < n; i++)
        {
            ref Libc.epoll_event ev = ref _ready[i];
            if (ev.data == 0)
            {
                DrainWake();
                continue;
            }
            events[count++] = new IoEvent(ev.data, ToIoEvents(ev.events));
        }
        return count;
    }

    public void Wake()
    {
        ulong one = 1;
        // EAGAIN means the counter is already non-zero: the loop is woken either way.
        Libc.write(_wakeFd, &one, sizeof(ulong));
    }

    public void Dispose()
    {
        Libc.close(_wakeFd);
        Libc.close(_epfd);
    }

    private void DrainWake()
    {
        ulong value;
        Libc.read(_wakeFd, &value, sizeof(ulong));
    }

    private void Control(int op, int fd, ulong token, IoEvents interest)
    {
        var ev = new Libc.epoll_event { events = ToEpoll(interest), data = token };
        if (Libc.epoll_ctl(_epfd, op, fd, &ev) < 0)
            throw new InvalidOperationException($"epoll_ctl({op}, fd {fd}) failed (errno {Libc.LastErrno})");
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
