using System;
using System.Runtime.Versioning;
using MonaAot.Interop;
using MonaAot.Reactor;

namespace MonaAot.Net;

/// <summary>What a listener reports: a new connection's descriptor (non-blocking, TCP_NODELAY).</summary>
public interface ITcpListenerEvents
{
    void OnAccepted(nint fd);
}

/// <summary>
/// A listening socket on the reactor. Accepting survives descriptor exhaustion: on EMFILE or
/// ENFILE it stops watching the socket, logs once, and tries again a little later, so the
/// server keeps serving its open connections and accepts again when descriptors free up.
/// </summary>
public sealed unsafe partial class TcpListener : IIoHandler
{
    private const int AcceptsPerEvent = 64;
    private const int ExhaustedRetryMs = 100;
    // Exhaustion tends to come in waves while it lasts: one warning a minute says it all.
    private const long ExhaustedLogIntervalMs = 60_000;

    private readonly NetContext _net;
    private readonly ITcpListenerEvents _events;
    private nint _fd;
    private int _family;
    private ulong _token;
    private long _exhaustedLoggedAt = -ExhaustedLogIntervalMs;
    private LoopTimer? _retry;

    private TcpListener(NetContext net, nint fd, int family, ITcpListenerEvents events)
    {
        _net = net;
        _fd = fd;
        _family = family;
        _events = events;
    }

    public int Port { get; private set; }

    /// <summary>Listens on <paramref name="address"/> (an IPv6 wildcard is made dual-stack).
    /// Returns the listener, or null with <paramref name="error"/> set.</summary>
    public static TcpListener? Start(NetContext net, NetAddress address, ITcpListenerEvents events, out string? error)
    {
        CallResult opened = SocketCalls.OpenStream(address.Family);
        if (opened.Failed)
        {
            error = NetError.Describe(net.Logger, "socket", -1, opened.Error, address.ToString());
            return null;
        }
        nint fd = opened.Value;
        SocketCalls.SetReuseAddress(fd);
        if (address.Family == SocketCalls.AF_INET6)
            SocketCalls.SetDualStack(fd);
        CallResult listening = SocketCalls.Bind(fd, &address);
        if (!listening.Failed)
            listening = SocketCalls.Listen(fd);
        if (listening.Failed)
        {
            error = NetError.Describe(net.Logger, "bind or listen", fd, listening.Error, address.ToString());
            SocketCalls.Close(fd);
            return null;
        }
        var listener = new TcpListener(net, fd, address.Family, events);
        NetAddress.OfSocket(fd, peer: false, out NetAddress bound);
        listener.Port = bound.Port;
        // Linux: readiness of the listening socket; Windows: AcceptEx operations kept posted.
        listener._token = net.Attach(fd, listener, OperatingSystem.IsWindows() ? IoEvents.None : IoEvents.Readable);
        if (OperatingSystem.IsWindows())
            listener.PostAccepts();
        error = null;
        return listener;
    }

    public void Stop()
    {
        if (_fd == -1)
            return;
        _retry?.Cancel();
        _net.Close(_fd, _token);
        _fd = -1;
    }

    public void OnIo(in IoEvent ev)
    {
        if (OperatingSystem.IsWindows())
            OnAcceptCompleted(in ev);
        else
            AcceptPending();
    }

    [UnsupportedOSPlatform("windows")] // accept4 on readiness: Unix; Windows posts AcceptEx
    private void AcceptPending()
    {
        for (int i = 0; i < AcceptsPerEvent && _fd != -1; i++)
        {
            CallResult accepted = Libc.Checked(Libc.accept4((int)_fd, null, null, Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC));
            if (!accepted.Failed)
            {
                SocketCalls.SetNoDelay(accepted.Value);
                _events.OnAccepted(accepted.Value);
                continue;
            }
            int errno = accepted.Error;
            if (errno is Libc.EINTR or Libc.ECONNABORTED)
                continue;
            if (errno is Libc.EMFILE or Libc.ENFILE or Libc.ENOBUFS or Libc.ENOMEM)
                PauseAccepting(errno);
            else if (errno != Libc.EAGAIN && NetError.Classify(errno) == NetErrorKind.Bug)
                NetError.Describe(_net.Logger, "accept", _fd, errno, null); // logged; the listener goes on
            return; // EAGAIN: nothing more waiting
        }
    }

    private void PauseAccepting(int errno)
    {
        if (EventLoop.Now - _exhaustedLoggedAt >= ExhaustedLogIntervalMs)
        {
            _exhaustedLoggedAt = EventLoop.Now;
            _net.Logger.Warn($"cannot accept on port {Port}: {NetError.Describe(errno)}; retrying while the open connections are served");
        }
        if (OperatingSystem.IsWindows())
        {
            _retry = _net.Loop.Schedule(ExhaustedRetryMs, 0, () =>
            {
                if (_fd != -1 && OperatingSystem.IsWindows())
                    PostAccepts();
            });
            return;
        }
        // Level-triggered epoll would report the pending connection again at once: stop
        // watching until the retry.
        _net.Change(_fd, _token, IoEvents.None);
        _retry = _net.Loop.Schedule(ExhaustedRetryMs, 0, () =>
        {
            if (_fd == -1 || OperatingSystem.IsWindows())
                return;
            _net.Change(_fd, _token, IoEvents.Readable);
            AcceptPending();
        });
    }
}
