using System;
using System.Diagnostics;
using MonaAot.Reactor;

namespace MonaAot.Net;

/// <summary>
/// Reuse of accepted connections (docs/architecture.md, "Connection pooling"): a plain accepted
/// connection goes back to <see cref="NetContext.SpareConnections"/> once all three are true:
/// it is closed, its report (<see cref="ITcpConnectionEvents.OnClosed"/>) has been delivered
/// or cancelled, and its owner said with <see cref="Release"/> that it holds it no more. The
/// next accept then takes it instead of allocating. Nothing stale can reach a reused one: its
/// reactor token changed (the handle table's generation), its timers were cancelled, and it
/// is out of the idle and ending lists. A connection made to connect is reused only when its
/// address was known at once (<see cref="ForConnect(NetContext, ITcpConnectionEvents, bool)"/>:
/// a resolver's answer could still come to one made for a name); one accepted behind a PROXY
/// header is, unless TLS follows the header; an accepted TLS one keeps its disposed session for
/// its next TLS accept (TcpConnection.Tls.cs); TLS ones made to connect never are. The report
/// is posted through one delegate made once per connection object, not a closure per close.
/// </summary>
public sealed unsafe partial class TcpConnection
{
    private bool _recyclable;                 // plain, reusable, and not in the pool
    private bool _released;                   // its owner holds it no more
    private bool _reportPending;              // DeliverClosed is queued on the loop
    private ITcpConnectionEvents? _reportTo;  // null: the queued report was cancelled
    private NetFailure _reportError;
    private Action? _deliverClosed;

    /// <summary>Queues the one report of the end to <paramref name="events"/>, for the next
    /// loop turn.</summary>
    private void PostClosed(ITcpConnectionEvents events, NetFailure error)
    {
        Debug.Assert(!_reportPending, "one report per connection");
        _reportTo = events;
        _reportError = error;
        _reportPending = true;
        _net.Loop.Post(_deliverClosed ??= DeliverClosed);
    }

    private void DeliverClosed()
    {
        ITcpConnectionEvents? events = _reportTo;
        NetFailure error = _reportError;
        _reportTo = null;
        _reportError = default;
        _reportPending = false;
        events?.OnClosed(this, error);
        Recycle();
    }

    /// <summary>The owner refers to this connection no more, nor will it call it again; it may
    /// be reused once closed and reported. Idempotent.</summary>
    public void Release()
    {
        _released = true;
        Recycle();
    }

    private void Recycle()
    {
        if (!_recyclable || !_released || _reportPending || _phase != Phase.Closed)
            return;
        _recyclable = false;
        // A closed connection holds no gate (DropGate, ShareGate); forgetting one anyway, without
        // writing to it, keeps a missed path from reaching a block its owner's userdata freed.
        Debug.Assert(_gate == null);
        _gate = null;
        _net.SpareConnections.Return(this);
    }

    /// <summary>Makes this connection (new, or spare) a fresh one: of accepted descriptor
    /// <paramref name="fd"/> (connected), or about to connect (no descriptor, resolving).</summary>
    private void Reuse(ITcpConnectionEvents events, nint fd, Phase phase, IoEvents interest, bool recyclable)
    {
        ParkTls(); // TcpConnection.Tls.cs
        Debug.Assert(_queue.IsEmpty && _kept == null && _gate == null && _tls == null && _plain == null && SweepIndex == -1);
        _events = events;
        _phase = phase;
        _fd = fd;
        _token = 0;
        _interest = interest;
        _timer = null;
        _candidates = [];
        _nextCandidate = 0;
        _attempt = default;
        _lastConnectError = null;
        _peerClosed = false;
        _paused = false;
        _localText = null;
        _peerText = null;
        _peerState = PeerState.NotYet;
        _activity = _activitySeen = 0;
        _idleTicks = 0;
        // TcpConnection.Ending.cs
        _drainWhenConnected = _shutdownRequested = _finSent = false;
        _lastProgress = _lingerSince = 0;
        _lastUnsent = -1;
        _allowHalfOpen = false;
        // TcpConnection.Proxy.cs (its buffer and timer are kept for the next header)
        _proxyBuffer = null;
        _proxyFilled = 0;
        _proxyLocalIdle = _proxyRestHeld = _proxied = false;
        _proxyPeer = default;
        _proxyText = null;
        BehindProxy = EndedQuietly = false;
        // this file
        _recyclable = recyclable;
        _released = false;
        _reportPending = false;
        _reportTo = null;
        _reportError = default;
    }
}
