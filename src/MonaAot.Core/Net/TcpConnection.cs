using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MonaAot.Interop;
using MonaAot.Net.Tls;
using MonaAot.Reactor;

namespace MonaAot.Net;

/// <summary>What a connection reports to its owner (a script's TCPClient). Loop thread.</summary>
public interface ITcpConnectionEvents
{
    void OnConnected(TcpConnection connection);

    /// <summary>
    /// All bytes available, preceded by what the previous call kept. Returns how many bytes to
    /// keep, counted from the end of <paramref name="data"/> (0 to data.Length).
    /// </summary>
    int OnReceived(TcpConnection connection, ReadOnlySpan<byte> data);

    /// <summary>The peer's FIN, after every byte before it was delivered; only with
    /// <see cref="TcpConnection.AllowHalfOpen"/> (without it the FIN ends the connection).</summary>
    void OnEnd(TcpConnection connection);

    /// <summary>What was queued has all gone to the kernel (<see cref="TcpConnection.Queued"/>
    /// is back to 0) while the connection is open. Called from the loop's I/O dispatch or from
    /// a method of the connection, so the owner defers the script's event to a later turn.</summary>
    void OnFlushed(TcpConnection connection);

    /// <summary>Once per connection, on a later loop turn than the cause: error is none (not
    /// <see cref="NetFailure.IsError"/>) for a normal close by either side, and for a disconnect
    /// whose queue was handed over and whose FIN was sent.</summary>
    void OnClosed(TcpConnection connection, NetFailure error);
}

/// <summary>
/// One TCP connection on the reactor: non-blocking connect over a list of candidate addresses
/// (each bounded by the connect timeout), reads into the shared buffer, sends straight to the
/// kernel and queues only what it does not take. Reading can be paused (the kernel's window
/// then slows the peer down). It ends at once on an error, or gracefully without losing a byte
/// (TcpConnection.Ending.cs): queued data is delivered, then the FIN.
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
    private NetAddress _attempt;     // the address being tried, formatted only for an error
    private LoopTimer? _connectTimer; // made once per connection object, which may be reused
    private NetAddress[]? _oneCandidate;
    private string? _lastConnectError;
    private bool _peerClosed;
    private bool _paused;
    private byte* _kept;
    private int _keptLength;
    private int _keptCapacity;
    private string? _localText;
    private string? _peerText;
    private DirectWriteGate* _gate;
    private long _activity;     // bumped by every byte moved through C#
    private long _activitySeen; // what the idle sweeper saw last
    private int _idleTicks;

    private TcpConnection(NetContext net, ITcpConnectionEvents? events)
    {
        _net = net;
        _events = events;
        _queue = new SendQueue(net.Chunks);
    }

    /// <summary>A connection that will connect once its addresses are known (<see cref="Connect"/>).
    /// <paramref name="reusable"/>: a spare connection may serve it, and it may be reused once
    /// its owner releases it (TcpConnection.Recycling.cs); only when nothing else (a resolver's
    /// answer) can still reach it later.</summary>
    public static TcpConnection ForConnect(NetContext net, ITcpConnectionEvents events, bool reusable = false)
    {
        TcpConnection connection = (reusable ? net.SpareConnections.Take() : null) ?? new TcpConnection(net, null);
        connection.Reuse(events, -1, Phase.Resolving, IoEvents.None, reusable);
        return connection;
    }

    /// <summary>Adopts an accepted descriptor (non-blocking, TCP_NODELAY set by the listener).
    /// A spare connection (TcpConnection.Recycling.cs) serves it when there is one.</summary>
    public static TcpConnection Accepted(NetContext net, nint fd, ITcpConnectionEvents events)
    {
        TcpConnection connection = net.SpareConnections.Take() ?? new TcpConnection(net, null);
        connection.Reuse(events, fd, Phase.Connected, IoEvents.Readable, recyclable: true);
        connection._token = net.Attach(fd, connection, IoEvents.Readable);
        net.Stats.Connections++;
        net.Stats.Accepts++;
        if (net.AcceptedFd == fd)
        {
            connection._peer = net.AcceptedPeer;
            connection._peerState = PeerState.Known;
            net.AcceptedFd = -1;
        }
        else
        {
            connection.RememberPeer(); // accepted on Windows, or not the last accept
        }
        net.Idle?.Add(connection);
        return connection;
    }

    /// <summary>Connected, and for TLS with its handshake done.</summary>
    public bool IsConnected => _phase == Phase.Connected && !Handshaking;

    /// <summary>Bytes accepted by <see cref="Send"/> and not handed to the kernel yet (on Windows,
    /// a posted send counts until it completes; with TLS, the plaintext not encrypted yet too).</summary>
    public long Queued => _queue.Length + PostedBytes + (_plain is null ? 0 : _plain.Length);

    /// <summary>Every byte sent so far has been handed to the kernel.</summary>
    private bool NothingToSend => _queue.IsEmpty && PostedBytes == 0 && (_plain is null || _plain.IsEmpty);

    // The platform's half (TcpConnection.Unix.cs, TcpConnection.Windows.cs).

    /// <summary>Whether the platform lets code outside C# write to the descriptor itself
    /// (<see cref="DirectWriteGate"/>).</summary>
    private static partial bool DirectWrites { get; }

    /// <summary>Bytes handed to the platform for sending and not reported sent yet, beyond the
    /// queue (a send posted to the completion port).</summary>
    private partial long PostedBytes { get; }

    /// <summary>Starts connecting <paramref name="fd"/> to <paramref name="address"/>; false when
    /// this address failed at once (<see cref="_lastConnectError"/> set, fd closed).</summary>
    private partial bool BeginConnect(nint fd, NetAddress address);

    /// <summary>The outcome of a connect attempt, from the event that ended it: 0 or an errno.</summary>
    private partial int ConnectOutcome(in IoEvent ev);

    /// <summary>Bytes were queued while the connection was connecting, draining or already
    /// sending.</summary>
    partial void OnAppendedBehind();

    /// <summary>The kernel took only part of a direct send; the rest has been queued.</summary>
    private partial void SendRestLater();

    /// <summary>Sends what is queued, as far as the kernel takes it.</summary>
    private partial void FlushQueue();

    /// <summary>A send operation completed (a completion backend's report).</summary>
    partial void OnSendCompleted(in IoEvent ev);

    /// <summary>The socket is closed: what was handed over and not reported is gone with it.</summary>
    partial void ForgetPostedSend();

    /// <summary>While true nothing is read: unread bytes, and the peer's FIN behind them, wait in
    /// the kernel. A closing connection (after <see cref="Disconnect"/>) reads regardless, only
    /// to find the peer's FIN.</summary>
    public bool Paused
    {
        get => _paused;
        set
        {
            _paused = value;
            UpdateInterest();
            if (!value && _tls is { IsEstablished: true })
                ResumeTls();
            else if (!value && _proxyRestHeld)
                ResumeProxyRest();
        }
    }


    /// <summary>Its place in the idle sweeper's list; -1 when not in it.</summary>
    internal int SweepIndex { get; set; } = -1;

    /// <summary>One look by the idle sweeper: how many looks in a row found no traffic.</summary>
    internal int TickIdle()
    {
        long activity = _activity + (_gate != null ? _gate->Sends : 0);
        // A paused connection is silent by the script's choice (a relay waiting for its other
        // side), not idle: it would lose what the kernel holds for it. Not so one whose own
        // queue is stuck: its peer may be gone.
        if (activity != _activitySeen || _phase != Phase.Connected || (_paused && NothingToSend))
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

    public string? LocalAddress =>
        _phase != Phase.Connected || Handshaking ? null
        : _localText ??= NetAddress.OfSocket(_fd, peer: false, out NetAddress local) ? local.ToString() : null;

    /// <summary>Kept from the moment of connection: after a reset the kernel no longer knows it,
    /// and the error message still names it.</summary>
    public string? PeerAddress => _phase == Phase.Connected && !Handshaking ? PeerText : null;

    /// <summary>The peer as it was when the connection was made, whatever its state now (for
    /// the owner's log about a connection no script saw); null before. Its text is made when
    /// first asked for: most connections never are (an accept makes no string).</summary>
    public string? PeerText => _peerText ??= _peerState switch
    {
        PeerState.Known => _peer.ToString(),
        PeerState.Unknown => "?",
        _ => null,
    };

    private enum PeerState : byte { NotYet, Known, Unknown }

    private PeerState _peerState;
    private NetAddress _peer;

    private void RememberPeer() =>
        _peerState = NetAddress.OfSocket(_fd, peer: true, out _peer) ? PeerState.Known : PeerState.Unknown;

    /// <summary>Lets code outside C# write to this connection's socket while it may (see
    /// <see cref="DirectWriteGate"/>): the gate is kept up to date until the connection closes
    /// or is handed back by <see cref="Disconnect"/> or <see cref="Abort"/>.</summary>
    public void ShareGate(DirectWriteGate* gate)
    {
        // Closed at its accept already (a PROXY source not trusted, a health check's reset, a
        // TLS session not made): its close dropped no gate, and it may be pooled, so it keeps
        // none. The block lives in the owner's userdata, which may be freed before the
        // connection's next use writes to it (docs/architecture.md, "Connection pooling"); a new
        // block says "not direct" already.
        if (_phase == Phase.Closed)
            return;
        _gate = gate;
        PublishGate();
    }

    /// <summary>Direct writes only while connected with nothing queued: they can then never
    /// overtake queued bytes, nor reach a connection that is draining or closed. Only where the
    /// platform allows them (<see cref="DirectWrites"/>).</summary>
    private void PublishGate()
    {
        if (_gate == null)
            return;
        bool direct = DirectWrites && _tls == null && _phase == Phase.Connected && NothingToSend && !_shutdownRequested;
        _gate->Fd = direct ? (int)_fd : -1;
        _gate->Direct = direct ? 1 : 0;
    }

    private void DropGate()
    {
        if (_gate == null)
            return;
        _gate->Fd = -1;
        _gate->Direct = 0;
        _gate = null;
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

    /// <summary>Starts connecting to <paramref name="address"/> alone (no list allocated).</summary>
    public void Connect(NetAddress address)
    {
        _oneCandidate ??= new NetAddress[1];
        _oneCandidate[0] = address;
        Connect(_oneCandidate);
    }

    /// <summary>Ends a connection whose addresses could not be found.</summary>
    public void FailResolve(string error)
    {
        if (_phase == Phase.Resolving)
            CloseUndelivered(error);
    }

    /// <summary>Sends or queues <paramref name="data"/>; returns null, or why nothing was sent.</summary>
    public string? Send(ReadOnlySpan<byte> data)
    {
        if (!IsOpen)
            return "not connected";
        if (_shutdownRequested)
            return "shut down for sending";
        if (_tls != null)
            return SendTls(data);
        if (_queue.Length + PostedBytes + data.Length > _net.Limits.MaxQueuedBytes)
            return OverLimit();
        // NothingToSend without its TLS part: a plain connection holds no plaintext.
        if (_phase != Phase.Connected || !_queue.IsEmpty || PostedBytes != 0)
        {
            _queue.Append(data);
            PublishGate();
            OnAppendedBehind();
            return null;
        }
        return SendDirect(data);
    }

    private string OverLimit()
    {
        string error = $"send queue limit exceeded ({_net.Limits.MaxQueuedBytes} bytes queued)";
        Close(error);
        return error;
    }

    private string? SendDirect(ReadOnlySpan<byte> data)
    {
        int sent = 0;
        while (sent < data.Length)
        {
            CallResult n;
            fixed (byte* p = data)
                n = SocketCalls.Send(_fd, p + sent, data.Length - sent);
            if (!n.Failed)
            {
                sent += (int)n.Value;
                continue;
            }
            int errno = n.Error;
            if (errno == Libc.EINTR)
                continue;
            _net.Stats.BytesSent += sent;
            _activity++;
            if (errno != Libc.EAGAIN)
            {
                string error = NetError.Describe(_net.Logger, "send", _fd, errno, PeerText ?? "?");
                Close(error);
                return error;
            }
            _queue.Append(data[sent..]);
            PublishGate();
            SendRestLater();
            return null;
        }
        _net.Stats.BytesSent += sent;
        _activity++;
        return null;
    }

    public void OnIo(in IoEvent ev)
    {
        switch (_phase)
        {
            case Phase.Connecting:
                FinishConnect(ConnectOutcome(in ev));
                break;
            case Phase.Connected when (ev.Events & IoEvents.Completed) != 0:
            case Phase.Draining when (ev.Events & IoEvents.Completed) != 0:
                OnSendCompleted(in ev);
                break;
            case Phase.Connected when ev.Result < 0:
            case Phase.Draining when ev.Result < 0:
                // The IOCP backend's readiness read failed (a reset): the read that follows may
                // no longer see the error, so it ends the connection here. Epoll gives no Result.
                FailReceive(-ev.Result);
                break;
            case Phase.Connected:
            case Phase.Draining:
                if ((ev.Events & (IoEvents.Writable | IoEvents.Error)) != 0 && !_queue.IsEmpty)
                    FlushQueue();
                if ((ev.Events & (IoEvents.Readable | IoEvents.Closed | IoEvents.Error)) != 0 && WantsToRead)
                    Receive();
                else if ((ev.Events & IoEvents.Error) != 0 && _phase == Phase.Connected)
                    FailWhileNotReading();
                break;
        }
    }

    private void TryNextCandidate()
    {
        while (_nextCandidate < _candidates.Length)
        {
            NetAddress address = _candidates[_nextCandidate++];
            CallResult opened = SocketCalls.OpenStream(address.Family);
            if (opened.Failed)
            {
                _lastConnectError = NetError.Describe(_net.Logger, "socket", -1, opened.Error, address.ToString());
                continue;
            }
            nint fd = opened.Value;
            SocketCalls.SetNoDelay(fd);
            if (BeginConnect(fd, address))
                return;
        }
        CloseUndelivered(_lastConnectError ?? "no address to connect to");
    }

    /// <summary>Watches <paramref name="fd"/>, connecting to <paramref name="address"/>, for at
    /// most the connect timeout. False when the loop could not watch it (out of memory, or of
    /// the user's epoll watches): fd is closed then, and the next address is tried.</summary>
    private bool BeginAttempt(nint fd, NetAddress address, IoEvents interest)
    {
        // Attached first: when that fails it has closed fd, which this connection must then not
        // hold (a later close would close the number again, maybe someone else's by then).
        try
        {
            _token = _net.Attach(fd, this, interest);
        }
        catch (InvalidOperationException e)
        {
            _lastConnectError = $"{e.Message} ({address})";
            return false;
        }
        _fd = fd;
        _phase = Phase.Connecting;
        _attempt = address;
        _interest = interest;
        _connectTimer ??= _net.Loop.CreateTimer(TimeOutAttempt);
        _net.Loop.Restart(_connectTimer, _net.Limits.ConnectTimeoutMs);
        _timer = _connectTimer;
        return true;
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
        _lastConnectError = NetError.Describe(_net.Logger, "connect", _fd, errno, _attempt.ToString());
        _net.CloseOwned(_fd, _token);
        _fd = -1;
        _phase = Phase.Resolving;
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
        PublishGate();
        if (_tls != null)
            StartHandshake(); // connected for the owner once it is done (AdvanceHandshake)
        else
            Established();
    }

    /// <summary>The connection is up for the owner: it hears of it, then what was queued or asked
    /// for meanwhile (a disconnect, a shutdown) goes on.</summary>
    private void Established()
    {
        _events?.OnConnected(this);
        if (_drainWhenConnected && _phase == Phase.Connected)
            BeginDrain();
        else if (_phase == Phase.Connected && !_queue.IsEmpty)
            FlushQueue();
        else if (_phase == Phase.Connected && _shutdownRequested)
            SendFin(); // shutdown() while connecting, with nothing queued
        if (_phase == Phase.Connected && _shutdownRequested && !_finSent)
            StartDrainTimer();
    }

    private void Receive()
    {
        if (_proxyBuffer != null)
        {
            ReceiveProxy();
            return;
        }
        if (_tls != null)
        {
            ReceiveTls();
            return;
        }
        // A few reads per readiness event, so one busy peer cannot starve the others.
        for (int round = 0; round < 4 && WantsToRead; round++)
        {
            byte* buffer;
            int capacity;
            if (_keptLength > 0)
            {
                buffer = KeptTail(out capacity);
            }
            else
            {
                buffer = _net.ReadBuffer;
                capacity = NetContext.ReadBufferSize;
            }
            CallResult received = SocketCalls.Receive(_fd, buffer, capacity);
            nint n = received.Value;
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
            int errno = received.Error;
            if (errno == Libc.EINTR)
                continue;
            if (errno != Libc.EAGAIN)
                FailReceive(errno);
            return;
        }
    }

    // The rare paths of the per-message methods (OnIo, Receive, Deliver) live out of line:
    // inlined, their error text and native allocation gave those methods a large stack frame,
    // zeroed on every call, and a stack cookie (docs/performance.md, "Issue 19: CPU per
    // message").

    /// <summary>Where a read appends to what the previous delivery kept, and the room there.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private byte* KeptTail(out int capacity)
    {
        EnsureKeptCapacity(_keptLength + NetContext.ReadBufferSize);
        capacity = _keptCapacity - _keptLength;
        return _kept + _keptLength;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void FailReceive(int errno) => CloseUndelivered(Failure("receive", errno));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CloseOverReceiveLimit() =>
        Close($"receive limit exceeded ({_net.Limits.MaxUnconsumedBytes} bytes unconsumed)");

    private void Deliver(byte* data, int length)
    {
        _proxyRestHeld = false; // what a PROXY header left behind goes now, with the rest
        int keep = _events?.OnReceived(this, new ReadOnlySpan<byte>(data, length)) ?? 0;
        if (_phase != Phase.Connected)
            return; // closed or disconnected from inside the handler
        keep = Math.Clamp(keep, 0, length);
        if (keep == 0)
        {
            if (_kept != null) // nothing kept is the common case: no call per message
                FreeKept();
            return;
        }
        if (keep > _net.Limits.MaxUnconsumedBytes)
        {
            CloseOverReceiveLimit();
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

    /// <summary>An error reported to a connection that is not reading (paused, or after the
    /// peer's FIN): a reset ends it now, as the IOCP backend's failed readiness read does, rather
    /// than when the script resumes. A hang-up without an error (both sides sent their FIN)
    /// waits for the resume, with the data before it.</summary>
    private void FailWhileNotReading()
    {
        int errno = SocketCalls.PendingError(_fd);
        if (errno != 0)
            CloseUndelivered(Failure("pending error (SO_ERROR)", errno));
    }

    /// <summary>Reading until the peer's FIN, unless paused (a TLS handshake reads regardless);
    /// a closing connection reads (and drops) only to see that FIN. Inlined: asked twice per
    /// message (docs/performance.md, "Issue 19: CPU per message").</summary>
    private bool WantsToRead
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get =>
            !_peerClosed && (_phase == Phase.Draining || (_phase == Phase.Connected && (!_paused || Handshaking)));
    }

    /// <summary>Readable while <see cref="WantsToRead"/>; writable while data is queued. One
    /// epoll_ctl only when that changes.</summary>
    private void UpdateInterest()
    {
        if (_fd < 0 || _phase is not (Phase.Connected or Phase.Draining))
            return;
        IoEvents interest = (WantsToRead ? IoEvents.Readable : IoEvents.None)
                            | (_queue.IsEmpty ? IoEvents.None : IoEvents.Writable);
        if (interest == _interest)
            return;
        _interest = interest;
        _net.Change(_fd, _token, interest);
    }

    /// <summary>Closes now, drops the queue, and reports once to the owner on a later turn.</summary>
    private void Close(NetFailure error)
    {
        if (_phase == Phase.Closed)
            return;
        if (_phase is Phase.Connected or Phase.Draining)
            _net.Stats.Connections--;
        if (error.IsError)
            _net.Stats.ConnectionErrors++;
        _phase = Phase.Closed;
        _net.Idle?.Remove(this);
        _net.Ending.Remove(this);
        DropGate();
        _timer?.Cancel();
        if (_tls != null)
            EndTls(error.IsError); // not its text: an errno's is made only when read
        if (_fd >= 0)
        {
            _net.CloseOwned(_fd, _token);
            _fd = -1;
        }
        _queue.Clear();
        ForgetPostedSend();
        FreeKept();
        ITcpConnectionEvents? events = _events;
        _events = null;
        if (events is not null)
            PostClosed(events, error);
        Recycle();
    }
}
