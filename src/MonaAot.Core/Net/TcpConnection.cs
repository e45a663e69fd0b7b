using System;
using System.Runtime.InteropServices;
using MonaAot.Interop;
using MonaAot.Reactor;

namespace MonaAot.Net;

/// <summary>What a connection reports to its owner (the Lua TCPClient). Loop thread.</summary>
public interface ITcpConnectionEvents
{
    void OnConnected(TcpConnection connection);

    /// <summary>
    /// All bytes available, preceded by what the previous call kept. Returns how many bytes to
    /// keep, counted from the end of <paramref name="data"/> (0 to data.Length).
    /// </summary>
    int OnReceived(TcpConnection connection, ReadOnlySpan<byte> data);

    /// <summary>Once per connection, on a later loop turn than the cause: error is null for a
    /// normal close by either side.</summary>
    void OnClosed(TcpConnection connection, string? error);
}

/// <summary>
/// One TCP connection on the reactor: non-blocking connect over a list of candidate addresses
/// (each bounded by the connect timeout), reads into the shared buffer, sends straight to the
/// kernel and queues only what it does not take. It ends at once on an error, or gracefully:
/// queued data is delivered (also after the peer's FIN, and also when disconnect() came before
/// the connection was up), then FIN, then the peer's FIN is awaited for the linger time. A
/// drain that makes no progress for a linger period ends with a reset, so that a truncation is
/// never mistaken for a clean end.
/// </summary>
public sealed unsafe partial class TcpConnection : IIoHandler
{
    private enum Phase { Resolving, Connecting, Connected, Draining, Closed }

    private readonly NetContext _net;
    private readonly SendQueue _queue;
    private ITcpConnectionEvents? _events;
    private Phase _phase;
    private nint _fd = -1;
    private ulong _token;
    private IoEvents _interest;
    private LoopTimer? _timer;
    private NetAddress[] _candidates = [];
    private int _nextCandidate;
    private string _attempt = "";
    private string? _lastConnectError;
    private bool _peerClosed;
    private bool _drainWhenConnected;
    private bool _finSent;
    private long _finSentAt;
    private long _flushedSinceTick;
    private byte* _kept;
    private int _keptLength;
    private int _keptCapacity;
    private string? _localText;
    private string? _peerText;
    private SendState* _sendState;
    private long _activity;     // bumped by every byte moved through C#
    private long _activitySeen; // what the idle sweeper saw last
    private int _idleTicks;
    // Windows: the bytes of the send posted to the completion port and not completed yet, at
    // most one at a time (always 0 on Linux, where what the kernel does not take waits in the
    // queue).
    private long _postedBytes;

    private TcpConnection(NetContext net, ITcpConnectionEvents events)
    {
        _net = net;
        _events = events;
        _queue = new SendQueue(net.Chunks);
    }

    /// <summary>A connection that will connect once its addresses are known (<see cref="Connect"/>).</summary>
    public static TcpConnection ForConnect(NetContext net, ITcpConnectionEvents events) =>
        new(net, events) { _phase = Phase.Resolving };

    /// <summary>Adopts an accepted descriptor (non-blocking, TCP_NODELAY set by the listener).</summary>
    public static TcpConnection Accepted(NetContext net, nint fd, ITcpConnectionEvents events)
    {
        var connection = new TcpConnection(net, events) { _fd = fd, _phase = Phase.Connected, _interest = IoEvents.Readable };
        connection._token = net.Attach(fd, connection, IoEvents.Readable);
        net.Stats.Connections++;
        connection.RememberPeer();
        net.Idle?.Add(connection);
        return connection;
    }

    public bool IsConnected => _phase == Phase.Connected;

    /// <summary>Every byte sent so far has been handed to the kernel.</summary>
    private bool NothingToSend => _queue.IsEmpty && _postedBytes == 0;

    /// <summary>Its place in the idle sweeper's list; -1 when not in it.</summary>
    internal int SweepIndex { get; set; } = -1;

    /// <summary>One look by the idle sweeper: how many looks in a row found no traffic.</summary>
    internal int TickIdle()
    {
        long activity = _activity + (_sendState != null ? _sendState->Sends : 0);
        if (activity != _activitySeen || _phase != Phase.Connected)
        {
            _activitySeen = activity;
            _idleTicks = 0;
        }
        else
        {
            _idleTicks++;
        }
        return _idleTicks;
    }

    internal void CloseIdle(int seconds) => Close($"idle for {seconds} s ([tcp] idleTimeout)");

    /// <summary>Resolving, connecting or connected: sends are accepted.</summary>
    public bool IsOpen => _phase is Phase.Resolving or Phase.Connecting or Phase.Connected;

    public string? LocalAddress =>
        _phase != Phase.Connected ? null
        : _localText ??= NetAddress.OfSocket(_fd, peer: false, out NetAddress local) ? local.ToString() : null;

    /// <summary>Kept from the moment of connection: after a reset the kernel no longer knows it,
    /// and the error message still names it.</summary>
    public string? PeerAddress => _phase == Phase.Connected ? _peerText : null;

    private void RememberPeer() =>
        _peerText = NetAddress.OfSocket(_fd, peer: true, out NetAddress peer) ? peer.ToString() : "?";

    /// <summary>Lets native code send on this connection while it may (see
    /// <see cref="SendState"/>); kept up to date until the connection closes or is handed back
    /// by <see cref="Disconnect"/> or <see cref="Abort"/>.</summary>
    public void ShareSendState(SendState* state)
    {
        _sendState = state;
        PublishSendState();
    }

    /// <summary>Direct sends only while connected with nothing queued: they can then never
    /// overtake queued bytes, nor reach a connection that is draining or closed. Linux only:
    /// the native direct send speaks descriptors.</summary>
    private void PublishSendState()
    {
        if (_sendState == null)
            return;
        bool direct = !OperatingSystem.IsWindows() && _phase == Phase.Connected && NothingToSend;
        _sendState->Fd = direct ? (int)_fd : -1;
        _sendState->Direct = direct ? 1 : 0;
    }

    private void DropSendState()
    {
        if (_sendState == null)
            return;
        _sendState->Fd = -1;
        _sendState->Direct = 0;
        _sendState = null;
    }

    /// <summary>Starts connecting to the first candidate, then the next on failure.</summary>
    public void Connect(NetAddress[] candidates)
    {
        if (_phase != Phase.Resolving)
            return;
        _candidates = candidates;
        _nextCandidate = 0;
        TryNextCandidate();
    }

    /// <summary>Ends a connection whose addresses could not be found.</summary>
    public void FailResolve(string error)
    {
        if (_phase == Phase.Resolving)
            Close(error);
    }

    /// <summary>Sends or queues <paramref name="data"/>; returns null, or why nothing was sent.</summary>
    public string? Send(ReadOnlySpan<byte> data)
    {
        if (!IsOpen)
            return "not connected";
        if (_queue.Length + _postedBytes + data.Length > _net.Limits.MaxQueuedBytes)
        {
            string error = $"send queue limit exceeded ({_net.Limits.MaxQueuedBytes} bytes queued)";
            Close(error);
            return error;
        }
        if (_phase != Phase.Connected || !NothingToSend)
        {
            _queue.Append(data);
            PublishSendState();
            if (OperatingSystem.IsWindows() && _phase == Phase.Connected)
                PostQueued();
            return null;
        }
        return SendDirect(data);
    }

    private string? SendDirect(ReadOnlySpan<byte> data)
    {
        int sent = 0;
        while (sent < data.Length)
        {
            nint n;
            fixed (byte* p = data)
                n = SocketCalls.Send(_fd, p + sent, data.Length - sent);
            if (n >= 0)
            {
                sent += (int)n;
                continue;
            }
            int errno = SocketCalls.LastError;
            if (errno == Libc.EINTR)
                continue;
            _net.Stats.BytesSent += sent;
            _activity++;
            if (errno != Libc.EAGAIN)
            {
                string error = NetError.Describe(errno, _peerText ?? "?");
                Close(error);
                return error;
            }
            _queue.Append(data[sent..]);
            PublishSendState();
            if (OperatingSystem.IsWindows())
                PostQueued();
            else
                UpdateInterest();
            return null;
        }
        _net.Stats.BytesSent += sent;
        _activity++;
        return null;
    }

    /// <summary>
    /// Graceful close: nothing more is reported to the owner (it reports its own
    /// disconnection); queued data is still delivered, then the socket shuts down.
    /// </summary>
    public void Disconnect()
    {
        _events = null;
        DropSendState();
        switch (_phase)
        {
            case Phase.Resolving or Phase.Connecting when !_queue.IsEmpty:
                _drainWhenConnected = true; // deliver what was sent before the connection was up
                break;
            case Phase.Resolving or Phase.Connecting:
                Close(null);
                break;
            case Phase.Connected:
                BeginDrain();
                break;
        }
    }

    /// <summary>Closes at once without telling the owner (its object is being collected).</summary>
    public void Abort()
    {
        _events = null;
        DropSendState();
        Close(null);
    }

    public void OnIo(in IoEvent ev)
    {
        switch (_phase)
        {
            case Phase.Connecting:
                // Linux reports a finished connect as writable, with the outcome in SO_ERROR;
                // the IOCP backend reports ConnectEx's completion with the outcome in Result.
                FinishConnect(OperatingSystem.IsWindows() ? -ev.Result : SocketCalls.PendingError(_fd));
                break;
            case Phase.Connected when OperatingSystem.IsWindows() && (ev.Events & IoEvents.Completed) != 0:
            case Phase.Draining when OperatingSystem.IsWindows() && (ev.Events & IoEvents.Completed) != 0:
                OnSendCompleted(in ev);
                break;
            case Phase.Connected when ev.Result < 0:
            case Phase.Draining when ev.Result < 0:
                // The IOCP backend's readiness read failed (a reset): the read that follows may
                // no longer see the error, so it ends the connection here. Epoll gives no Result.
                Close(NetError.Describe(-ev.Result, _peerText ?? "?"));
                break;
            case Phase.Connected:
            case Phase.Draining:
                if ((ev.Events & (IoEvents.Writable | IoEvents.Error)) != 0 && !_queue.IsEmpty)
                    FlushQueue();
                if ((ev.Events & (IoEvents.Readable | IoEvents.Closed | IoEvents.Error)) != 0 && !_peerClosed)
                    Receive();
                break;
        }
    }

    private void TryNextCandidate()
    {
        while (_nextCandidate < _candidates.Length)
        {
            NetAddress address = _candidates[_nextCandidate++];
            nint fd = SocketCalls.OpenStream(address.Family);
            if (fd == -1)
            {
                _lastConnectError = NetError.Describe(SocketCalls.LastError, address.ToString());
                continue;
            }
            SocketCalls.SetNoDelay(fd);
            if (OperatingSystem.IsWindows())
            {
                // ConnectEx, posted once the socket is attached; its outcome comes to OnIo.
                BeginAttempt(fd, address, IoEvents.None);
                PostConnectEx(address);
                return;
            }
            int result = SocketCalls.Connect(fd, &address);
            int errno = result == 0 ? 0 : SocketCalls.LastError;
            if (result == 0 || errno == Libc.EINPROGRESS)
            {
                BeginAttempt(fd, address, IoEvents.Writable); // epoll says writable when done
                return;
            }
            SocketCalls.Close(fd);
            _lastConnectError = NetError.Describe(errno, address.ToString());
        }
        Close(_lastConnectError ?? "no address to connect to");
    }

    /// <summary>Watches <paramref name="fd"/>, connecting to <paramref name="address"/>, for at
    /// most the connect timeout.</summary>
    private void BeginAttempt(nint fd, NetAddress address, IoEvents interest)
    {
        _fd = fd;
        _phase = Phase.Connecting;
        _attempt = address.ToString();
        _interest = interest;
        _token = _net.Attach(fd, this, interest);
        _timer = _net.Loop.Schedule(_net.Limits.ConnectTimeoutMs, 0, TimeOutAttempt);
    }

    private void TimeOutAttempt()
    {
        if (_phase == Phase.Connecting)
            FailAttempt(Libc.ETIMEDOUT);
    }

    /// <summary>This address failed: close its socket and go on with the next one.</summary>
    private void FailAttempt(int errno)
    {
        _timer?.Cancel();
        _net.Close(_fd, _token);
        _fd = -1;
        _phase = Phase.Resolving;
        _lastConnectError = NetError.Describe(errno, _attempt);
        TryNextCandidate();
    }

    private void FinishConnect(int error)
    {
        if (error != 0)
        {
            FailAttempt(error);
            return;
        }
        _timer?.Cancel();
        _phase = Phase.Connected;
        _net.Stats.Connections++;
        RememberPeer();
        _net.Idle?.Add(this);
        UpdateInterest();
        PublishSendState();
        _events?.OnConnected(this);
        if (_drainWhenConnected && _phase == Phase.Connected)
            BeginDrain();
        else if (_phase == Phase.Connected && !_queue.IsEmpty)
            FlushQueue();
    }

    private void BeginDrain()
    {
        _phase = Phase.Draining;
        PublishSendState();
        FreeKept();
        _timer = _net.Loop.Schedule(_net.Limits.LingerMs, _net.Limits.LingerMs, DrainTick);
        if (NothingToSend)
            SendFin();
        else
            FlushQueue();
    }

    private void SendFin()
    {
        SocketCalls.ShutdownSend(_fd);
        _finSent = true;
        _finSentAt = EventLoop.Now;
        if (_peerClosed)
            Close(null);
    }

    /// <summary>Every linger period while draining: give up on a peer that takes nothing (with a
    /// reset, so it cannot take the cut for a clean end), or whose FIN does not come.</summary>
    private void DrainTick()
    {
        if (_phase != Phase.Draining)
            return;
        if (!_finSent)
        {
            if (_flushedSinceTick == 0)
                CloseWithReset();
            _flushedSinceTick = 0;
        }
        else if (EventLoop.Now - _finSentAt >= _net.Limits.LingerMs)
        {
            Close(null);
        }
    }

    private void CloseWithReset()
    {
        SocketCalls.SetAbortiveClose(_fd);
        Close("peer took no data for the linger time");
    }

    private void FlushQueue()
    {
        if (OperatingSystem.IsWindows())
        {
            PostQueued();
            return;
        }
        long sent = _queue.Flush(_fd);
        if (sent < 0)
        {
            Close(NetError.Describe((int)-sent, _peerText ?? "?"));
            return;
        }
        _net.Stats.BytesSent += sent;
        _flushedSinceTick += sent;
        _activity += sent > 0 ? 1 : 0;
        UpdateInterest();
        PublishSendState();
        if (NothingToSend)
            AllSent();
    }

    /// <summary>The last queued byte has gone to the kernel.</summary>
    private void AllSent()
    {
        if (_phase == Phase.Draining && !_finSent)
            SendFin();
        else if (_phase == Phase.Connected && _peerClosed)
            Close(null); // the peer's FIN came while data was queued: delivered, now done
    }

    private void Receive()
    {
        // A few reads per readiness event, so one busy peer cannot starve the others.
        for (int round = 0; round < 4 && _phase is Phase.Connected or Phase.Draining; round++)
        {
            byte* buffer;
            int capacity;
            if (_keptLength > 0)
            {
                EnsureKeptCapacity(_keptLength + NetContext.ReadBufferSize);
                buffer = _kept + _keptLength;
                capacity = _keptCapacity - _keptLength;
            }
            else
            {
                buffer = _net.ReadBuffer;
                capacity = NetContext.ReadBufferSize;
            }
            nint n = SocketCalls.Receive(_fd, buffer, capacity);
            if (n > 0)
            {
                _net.Stats.BytesReceived += n;
                _activity++;
                if (_phase == Phase.Connected)
                    Deliver(_keptLength > 0 ? _kept : buffer, _keptLength + (int)n);
                if (n < capacity)
                    return;
                continue;
            }
            if (n == 0)
            {
                OnPeerClosed();
                return;
            }
            int errno = SocketCalls.LastError;
            if (errno == Libc.EINTR)
                continue;
            if (errno != Libc.EAGAIN)
                Close(NetError.Describe(errno, _peerText ?? "?"));
            return;
        }
    }

    /// <summary>The peer's FIN: a normal end, once whatever is still queued has been sent.</summary>
    private void OnPeerClosed()
    {
        _peerClosed = true;
        if (NothingToSend || (_phase == Phase.Draining && _finSent))
            Close(null);
        else
            UpdateInterest(); // nothing more to read; keep flushing
    }

    private void Deliver(byte* data, int length)
    {
        int keep = _events?.OnReceived(this, new ReadOnlySpan<byte>(data, length)) ?? 0;
        if (_phase != Phase.Connected)
            return; // closed or disconnected from inside the handler
        keep = Math.Clamp(keep, 0, length);
        if (keep == 0)
        {
            FreeKept();
            return;
        }
        if (keep > _net.Limits.MaxUnconsumedBytes)
        {
            Close($"receive limit exceeded ({_net.Limits.MaxUnconsumedBytes} bytes unconsumed)");
            return;
        }
        if (data == _kept)
        {
            Buffer.MemoryCopy(_kept + length - keep, _kept, _keptCapacity, keep);
        }
        else
        {
            EnsureKeptCapacity(keep + NetContext.ReadBufferSize);
            Buffer.MemoryCopy(data + length - keep, _kept, _keptCapacity, keep);
        }
        _keptLength = keep;
    }

    private void EnsureKeptCapacity(int capacity)
    {
        if (_keptCapacity >= capacity)
            return;
        int size = Math.Max(capacity, _keptCapacity * 2);
        _kept = (byte*)NativeMemory.Realloc(_kept, (nuint)size);
        _keptCapacity = size;
    }

    private void FreeKept()
    {
        if (_kept != null)
            NativeMemory.Free(_kept);
        _kept = null;
        _keptLength = _keptCapacity = 0;
    }

    /// <summary>Readable unless the peer has closed; writable while data is queued. One
    /// epoll_ctl only when that changes.</summary>
    private void UpdateInterest()
    {
        if (_fd < 0 || _phase is not (Phase.Connected or Phase.Draining))
            return;
        IoEvents interest = (_peerClosed ? IoEvents.None : IoEvents.Readable)
                            | (_queue.IsEmpty ? IoEvents.None : IoEvents.Writable);
        if (interest == _interest)
            return;
        _interest = interest;
        _net.Change(_fd, _token, interest);
    }

    /// <summary>Closes now, drops the queue, and reports once to the owner on a later turn.</summary>
    private void Close(string? error)
    {
        if (_phase == Phase.Closed)
            return;
        if (_phase is Phase.Connected or Phase.Draining)
            _net.Stats.Connections--;
        _phase = Phase.Closed;
        _net.Idle?.Remove(this);
        DropSendState();
        _timer?.Cancel();
        if (_fd >= 0)
        {
            _net.Close(_fd, _token);
            _fd = -1;
        }
        _queue.Clear();
        FreeKept();
        ITcpConnectionEvents? events = _events;
        _events = null;
        if (events is not null)
            _net.Loop.Post(() => events.OnClosed(this, error));
    }
}
