using MonaAot.Reactor;

namespace MonaAot.Net;

/// <summary>
/// How a connection ends without losing a byte (docs/api.md, "client:disconnect()" and
/// "client:shutdown()").
///
/// <list type="bullet">
/// <item><see cref="Disconnect"/>: nothing more is read for the owner; what is queued is handed
/// to the kernel, then the FIN is sent, and only then does the owner hear of the end (error
/// null). A drain has no time limit while the peer takes bytes; one that takes none for
/// [tcp] sendTimeout fails with a reset and an error naming the bytes not delivered.</item>
/// <item><see cref="Shutdown"/>: the same FIN after the queue, but reading goes on; the
/// connection ends when the peer closes too.</item>
/// <item>The peer's FIN ends the connection once the queue is sent, or, with
/// <see cref="AllowHalfOpen"/>, is reported and leaves it open for sending.</item>
/// </list>
///
/// After the FIN of a disconnect the socket stays open, unseen by the owner, while the kernel
/// still delivers what it holds and then for the linger time, waiting for the peer's FIN: a
/// close with the peer's bytes still arriving would reset the peer, which then loses what it
/// has not read yet.
/// </summary>
public sealed partial class TcpConnection
{
    private bool _drainWhenConnected; // disconnect() came while connecting, with data queued
    private bool _shutdownRequested;  // the FIN goes after the queue (shutdown or disconnect)
    private bool _finSent;
    private long _lastProgress;       // EventLoop.Now when the drain last moved a byte
    private int _lastUnsent = -1;     // the kernel's undelivered bytes at the last look
    private long _lingerSince;        // when the kernel had nothing left to deliver

    /// <summary>The peer's FIN is reported (<see cref="ITcpConnectionEvents.OnEnd"/>) instead of
    /// ending the connection, which stays open for sending. Turned off after that FIN came, it
    /// ends the connection as the FIN would have: once the queue is sent.</summary>
    public bool AllowHalfOpen
    {
        get => _allowHalfOpen;
        set
        {
            _allowHalfOpen = value;
            if (value || !_peerClosed || _phase != Phase.Connected || _finSent)
                return;
            if (NothingToSend)
                Close(null);
            else if (!_shutdownRequested)
                StartDrainTimer(); // AllSent ends it; a peer that stops reading, sendTimeout
        }
    }

    private bool _allowHalfOpen;

    /// <summary>Queued bytes plus what the kernel has not delivered yet (where it tells).</summary>
    internal long Undelivered
    {
        get
        {
            int unsent = _fd >= 0 ? SocketCalls.UnsentBytes(_fd) : 0;
            if (_finSent && unsent > 0)
                unsent--; // the FIN itself counts until the peer acknowledges it
            return Queued + System.Math.Max(0, unsent);
        }
    }

    /// <summary>Resolving, connecting or connected, and not disconnected: sends are accepted
    /// (until <see cref="Shutdown"/>).</summary>
    public bool IsOpen => _phase is Phase.Resolving or Phase.Connecting or Phase.Connected && !_drainWhenConnected;

    /// <summary>
    /// Graceful close. With <paramref name="report"/> the owner hears of the end once the queue is
    /// handed over and the FIN sent, or of why that failed; without, it hears nothing more (its
    /// application stopped). Nothing more is delivered either way.
    /// </summary>
    public void Disconnect(bool report = true)
    {
        if (!report)
            _events = _reportTo = null; // a report already posted is not delivered either
        DropGate(); // the owner's block may serve its next connection from now on
        switch (_phase)
        {
            case Phase.Resolving or Phase.Connecting when Queued > 0:
            case Phase.Connected when Handshaking && Queued > 0:
                _drainWhenConnected = true; // deliver what was sent before the connection was up
                _shutdownRequested = true;
                _net.Ending.Add(this);
                break;
            case Phase.Resolving or Phase.Connecting:
            case Phase.Connected when Handshaking:
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
        _events = _reportTo = null;
        DropGate();
        Close(null);
    }

    /// <summary>Half-close from this side: the FIN goes after what is queued, reading goes on.
    /// Returns null, or why it cannot be done.</summary>
    public string? Shutdown()
    {
        if (!IsOpen)
            return "not connected";
        if (_shutdownRequested)
            return null;
        _shutdownRequested = true;
        PublishGate();
        if (_phase != Phase.Connected || Handshaking)
            return null; // Established sends it, after the queue
        if (NothingToSend)
            SendFin();
        else
            StartDrainTimer();
        return null;
    }

    private void BeginDrain()
    {
        _phase = Phase.Draining;
        _shutdownRequested = true;
        _net.Ending.Add(this);
        PublishGate();
        FreeKept();
        StartDrainTimer();
        UpdateInterest(); // reads again if paused: only to see the peer's FIN
        if (_finSent)
            FinDone(); // shutdown() came first: the FIN is out already
        else if (NothingToSend)
            SendFin();
        else
            FlushQueue();
    }

    private LoopTimer? _drainTimer; // made once per connection object, which may be reused

    private int DrainPeriodMs => System.Math.Clamp(_net.Limits.SendTimeoutMs / 4, 100, 1000);

    /// <summary>Looks at a drain's progress a few times per send timeout. The timer is the
    /// connection's own, armed again at each tick as a periodic one would be, so that a
    /// disconnect allocates nothing (docs/architecture.md, "Connection pooling").</summary>
    private void StartDrainTimer()
    {
        _timer?.Cancel();
        _lastProgress = EventLoop.Now;
        _drainTimer ??= _net.Loop.CreateTimer(DrainTick);
        _net.Loop.Restart(_drainTimer, DrainPeriodMs);
        _timer = _drainTimer;
    }

    /// <summary>The last queued byte has gone to the kernel.</summary>
    private void AllSent()
    {
        if (Handshaking)
            return; // only the handshake's own bytes went: nothing of the owner's, no FIN yet
        if (_shutdownRequested)
        {
            if (!_finSent)
                SendFin();
        }
        else if (_peerClosed && !AllowHalfOpen)
        {
            Close(null); // the peer's FIN came while data was queued: delivered, now done
            return;
        }
        if (_phase == Phase.Connected)
            _events?.OnFlushed(this);
    }

    private void SendFin()
    {
        if (_tls != null && !CloseNotifySent())
            return; // AllSent comes back here once the close_notify is handed over
        SocketCalls.ShutdownSend(_fd);
        _finSent = true;
        PublishGate();
        if (_phase == Phase.Draining)
            FinDone();
        else if (_peerClosed)
            Close(null); // shutdown() after the peer's FIN: both sides are done
        else
            _timer?.Cancel(); // the drain is over; the peer's FIN may take its time
    }

    /// <summary>A disconnect's queue is handed over and its FIN sent: the owner hears of it now;
    /// the socket lingers unseen until the peer's FIN (see the class comment).</summary>
    private void FinDone()
    {
        ITcpConnectionEvents? events = _events;
        _events = null;
        if (events is not null)
            PostClosed(events, null);
        if (_peerClosed)
            Close(null);
    }

    /// <summary>The peer's FIN (read after everything before it).</summary>
    private void OnPeerClosed()
    {
        _peerClosed = true;
        // The common end, closed at once: no epoll_ctl first to stop reading, which the close
        // does (docs/performance.md, "Issue 19: CPU per message").
        if (_phase == Phase.Draining ? _finSent : !AllowHalfOpen && NothingToSend)
        {
            Close(null);
            return;
        }
        UpdateInterest();
        if (_phase == Phase.Draining)
            return; // the drain goes on: a FIN closes only the peer's sending side
        if (AllowHalfOpen)
        {
            _events?.OnEnd(this);
            if (_phase == Phase.Connected && _finSent)
                Close(null);
            return;
        }
        if (!_shutdownRequested)
            StartDrainTimer(); // the queue is still sent, then AllSent ends the connection
    }

    /// <summary>Every few hundred milliseconds while a connection is ending.</summary>
    private void DrainTick()
    {
        if (_phase == Phase.Closed)
            return;
        if (_timer == _drainTimer)
            _net.Loop.Restart(_drainTimer!, DrainPeriodMs); // the next look; what follows may cancel it
        long now = EventLoop.Now;
        // The peer taking bytes is progress even when none of ours moves: a socket is writable
        // again only once a third of its send buffer (up to 4 MiB) is acknowledged, which a
        // slow reader can take minutes to reach. Linux tells what the kernel still holds.
        int unsent = SocketCalls.UnsentBytes(_fd);
        if (unsent >= 0 && unsent != _lastUnsent)
        {
            _lastUnsent = unsent;
            _lastProgress = now;
        }
        if (!_finSent)
        {
            if (now - _lastProgress >= _net.Limits.SendTimeoutMs)
                FailDrain();
            return;
        }
        if (_phase != Phase.Draining)
        {
            _timer?.Cancel();
            return;
        }
        // FIN sent, the owner told: while the kernel still delivers, the socket stays, so that
        // the peer's late bytes do not reset it.
        if (unsent > 0)
        {
            if (now - _lastProgress >= _net.Limits.SendTimeoutMs)
                Close(null); // the kernel keeps trying on its own
            return;
        }
        if (_lingerSince == 0)
            _lingerSince = now;
        else if (now - _lingerSince >= _net.Limits.LingerMs)
            Close(null);
    }

    /// <summary>The peer took nothing for the send timeout: a reset, so that it cannot take the
    /// cut for a clean end, and an error that says what was lost.</summary>
    private void FailDrain()
    {
        long undelivered = Queued;
        SocketCalls.SetAbortiveClose(_fd);
        Close($"send timed out: the peer took no data for {_net.Limits.SendTimeoutMs / 1000} s ([tcp] sendTimeout), {undelivered} queued bytes not delivered");
    }

    /// <summary>Ends with <paramref name="error"/>; a connection that was ending says how many
    /// queued bytes did not reach the kernel.</summary>
    private void CloseUndelivered(NetFailure error)
    {
        long undelivered = Queued;
        if (_shutdownRequested && undelivered > 0)
            error = $"{error.Text}, {undelivered} queued bytes not delivered";
        Close(error);
    }

    /// <summary>What <paramref name="operation"/> failing with <paramref name="errno"/> ends
    /// this connection with: its text made only when read (<see cref="NetFailure"/>), except
    /// for a bug, which is logged now (<see cref="NetError.Classify"/>).</summary>
    private NetFailure Failure(string operation, int errno) =>
        NetError.Classify(errno) == NetErrorKind.Bug
            ? NetError.Describe(_net.Logger, operation, _fd, errno, PeerText ?? "?")
            : NetFailure.OfErrno(errno, _peerText, _peer, _peerState == PeerState.Known);
}
