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

    // The platform's half (TcpListener.Unix.cs, TcpListener.Windows.cs): what the listening
    // socket is watched for, how accepting starts, IIoHandler.OnIo, and the retry after a pause.
    private partial void StartAccepting();
    private partial void RetryLater();

    /// <summary>Listens on <paramref name="address"/> (an IPv6 wildcard is made dual-stack).
    /// Returns the listener, or null with <paramref name="error"/> set. <paramref name="shared"/>
    /// false: no SO_REUSEPORT even in a worker (an address of this process's own, which
    /// another process must not be able to share silently).</summary>
    public static TcpListener? Start(NetContext net, NetAddress address, ITcpListenerEvents events, out string? error, bool shared = true)
    {
        if (net.ListeningStopped)
        {
            error = "the server is stopping";
            return null;
        }
        // A socket the service manager already listens on for this address is taken as it is.
        if (SocketActivation.TryAdopt(address, stream: true, out nint passed))
        {
            error = null;
            return Listen(net, passed, address.Family, events);
        }
        CallResult opened = SocketCalls.OpenStream(address.Family);
        if (opened.Failed)
        {
            error = NetError.Describe(net.Logger, "socket", -1, opened.Error, address.ToString());
            return null;
        }
        nint fd = opened.Value;
        SocketCalls.SetReuseAddress(fd);
        if (net.ReusePort && shared)
            SocketCalls.SetReusePort(fd);
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
        error = null;
        return Listen(net, fd, address.Family, events);
    }

    private static TcpListener Listen(NetContext net, nint fd, int family, ITcpListenerEvents events)
    {
        var listener = new TcpListener(net, fd, family, events);
        NetAddress.OfSocket(fd, peer: false, out NetAddress bound);
        listener.Port = bound.Port;
        listener._token = net.Attach(fd, listener, AcceptInterest);
        net.Listeners.Add(listener);
        listener.StartAccepting();
        return listener;
    }

    public void Stop()
    {
        if (_fd == -1)
            return;
        _retry?.Cancel();
        _net.Listeners.Remove(this);
        // A passed socket stays open for the next start (SocketActivation.GiveBack), except
        // when SIGTERM stops listening: then the balancer must see the port refuse.
        if (!_net.ListeningStopped && SocketActivation.IsAdopted(_fd))
        {
            _net.Release(_fd, _token);
            SocketActivation.GiveBack(_fd);
        }
        else
        {
            _net.Close(_fd, _token);
        }
        _fd = -1;
    }

    private void PauseAccepting(int errno)
    {
        if (EventLoop.Now - _exhaustedLoggedAt >= ExhaustedLogIntervalMs)
        {
            _exhaustedLoggedAt = EventLoop.Now;
            _net.Logger.Warn($"cannot accept on port {Port}: {NetError.Describe(errno)}; retrying while the open connections are served");
        }
        RetryLater();
    }
}
