using System;
using MonaAot.Interop;
using MonaAot.Net.Tls;
using MonaAot.Reactor;

namespace MonaAot.Net;

/// <summary>
/// An accepted connection behind a load balancer that speaks the PROXY protocol (docs/api.md,
/// "TCPServer.proxyProtocol"): before anything else (a TLS handshake included, HAProxy's order)
/// the header is read into a buffer of its own and parsed (<see cref="ProxyHeader"/>); the peer
/// address becomes the original client's, the socket's own peer is kept as the proxy address,
/// and the bytes read behind the header are the connection's first data. Until then the owner
/// does not hear of the connection; a header missing, malformed, or not complete within
/// [tls] handshakeTimeout closes it. A connection closed before its first byte (a balancer's
/// TCP health check), or after a LOCAL header with nothing behind it, ends quietly.
/// </summary>
public sealed unsafe partial class TcpConnection
{
    private byte[]? _proxyBuffer;   // _proxyStore while the header is awaited, else null
    private byte[]? _proxyStore;    // made once per connection object, kept across reuse
    private LoopTimer? _proxyTimer; // likewise: armed again for each header awaited
    private Action? _resumeProxyRest;
    private int _proxyFilled;
    private bool _proxyLocalIdle;   // a LOCAL header came alone: handed over only if data follows
    private bool _proxied;          // a header named the client: _peer is it, _proxyPeer the balancer
    private NetAddress _proxyPeer;
    private string? _proxyText;     // _proxyPeer's text, made when first asked for
    private bool _proxyRestHeld;    // bytes behind the header wait in _kept for a resume()

    /// <summary>The socket's own peer (the balancer) on a connection that came with a PROXY
    /// header; null otherwise.</summary>
    public string? ProxyAddress => BehindProxy && _phase == Phase.Connected && !Handshaking ? SocketPeerText : null;

    /// <summary>The socket's own peer, whatever a PROXY header said (the balancer behind one,
    /// else <see cref="PeerText"/>), for the owner's log about a connection no script saw. Its
    /// text is made when first asked for, as PeerText's.</summary>
    public string? SocketPeerText => _proxied ? _proxyText ??= _proxyPeer.ToString() : PeerText;

    /// <summary>Accepted by a server that expects a PROXY header.</summary>
    public bool BehindProxy { get; private set; }

    /// <summary>It ended before any byte, or after a LOCAL header with nothing behind it: a
    /// balancer's health check, not worth a warning.</summary>
    public bool EndedQuietly { get; private set; }

    /// <summary>Adopts an accepted descriptor that must start with a PROXY header from a source
    /// <paramref name="trust"/> accepts; TLS follows when <paramref name="tls"/> is given. The
    /// owner hears <see cref="ITcpConnectionEvents.OnConnected"/> once both are done, or
    /// <see cref="ITcpConnectionEvents.OnClosed"/> with why not.</summary>
    public static TcpConnection AcceptedProxy(NetContext net, nint fd, ITcpConnectionEvents events, ProxyTrust trust, TlsContext? tls)
    {
        TcpConnection connection = Accepted(net, fd, events);
        connection.BehindProxy = true; // reused as a plain one is (Reuse resets the header state)
        if (!NetAddress.OfSocket(fd, peer: true, out NetAddress peer))
        {
            // Reset before it was accepted: HAProxy's TCP check connects and resets at once.
            connection.EndedQuietly = true;
            connection.Close("PROXY protocol: closed before any byte (reset)");
            return connection;
        }
        if (!trust.Trusts(peer))
        {
            net.Stats.ProxyRejections++;
            connection.Close($"PROXY protocol: {connection.PeerText} is not a trusted source");
            return connection;
        }
        if (tls is not null)
        {
            connection._recyclable = false; // its TLS state is not reset for reuse
            TlsSession? session = TlsSession.CreateServer(tls, out string? error);
            if (session == null)
            {
                net.Stats.TlsHandshakeFailures++;
                connection.Close($"TLS handshake failed: {error}");
                return connection;
            }
            connection.UseTls(session); // its handshake starts after the header
        }
        connection._proxyBuffer = connection._proxyStore ??= new byte[ProxyHeader.MaxLength];
        connection._proxyTimer ??= net.Loop.CreateTimer(connection.TimeOutProxy);
        net.Loop.Restart(connection._proxyTimer, net.Limits.TlsHandshakeTimeoutMs);
        connection._timer = connection._proxyTimer;
        return connection;
    }

    private void TimeOutProxy()
    {
        if (_phase != Phase.Connected || _proxyBuffer is null)
            return;
        EndedQuietly = _proxyLocalIdle;
        if (!EndedQuietly)
            _net.Stats.ProxyRejections++;
        Close(_proxyLocalIdle ? "PROXY protocol: LOCAL header and no data"
            : $"PROXY protocol: no header within {_net.Limits.TlsHandshakeTimeoutMs / 1000} s ([tls] handshakeTimeout)");
    }

    /// <summary>Reads the header, as far as the kernel has it; then the connection goes on.</summary>
    private void ReceiveProxy()
    {
        while (_proxyBuffer is { } buffer)
        {
            CallResult received;
            fixed (byte* p = buffer)
                received = SocketCalls.Receive(_fd, p + _proxyFilled, buffer.Length - _proxyFilled);
            nint n = received.Value;
            if (n > 0)
            {
                _net.Stats.BytesReceived += n;
                _activity++;
                int before = _proxyFilled;
                _proxyFilled += (int)n;
                if (_proxyLocalIdle)
                {
                    FinishProxy(before, _proxyFilled - before);
                    return;
                }
                switch (ProxyHeader.Parse(buffer.AsSpan(0, _proxyFilled), out ProxyHeader header, out string? error))
                {
                    case ProxyParse.Invalid:
                        _net.Stats.ProxyRejections++;
                        Close($"PROXY protocol: {error}");
                        return;
                    case ProxyParse.NeedMore:
                        continue; // a header never fills the buffer and still needs more
                    default:
                        ApplyProxy(in header);
                        int rest = _proxyFilled - header.Length;
                        if (header.Local && rest == 0)
                        {
                            _proxyLocalIdle = true;
                            _proxyFilled = 0;
                            continue;
                        }
                        FinishProxy(header.Length, rest);
                        return;
                }
            }
            if (n == 0)
            {
                EndedQuietly = _proxyFilled == 0;
                if (!EndedQuietly && !_proxyLocalIdle)
                    _net.Stats.ProxyRejections++; // closed within the header
                Close(_proxyLocalIdle ? "PROXY protocol: LOCAL header and no data"
                    : _proxyFilled == 0 ? "PROXY protocol: closed before any byte" : "PROXY protocol: closed within the header");
                return;
            }
            int errno = received.Error;
            if (errno == Libc.EINTR)
                continue;
            if (errno == Libc.EAGAIN)
                return;
            if (errno == Libc.ECONNRESET && (_proxyFilled == 0 || _proxyLocalIdle))
            {
                EndedQuietly = true; // a check that resets rather than closes
                Close(_proxyLocalIdle ? "PROXY protocol: LOCAL header and no data (reset)" : "PROXY protocol: closed before any byte (reset)");
                return;
            }
            Close(NetError.Describe(_net.Logger, "receive", _fd, errno, PeerText ?? "?"));
            return;
        }
    }

    /// <summary>The header names the client: it becomes the peer, the socket's own peer is kept
    /// as the proxy's; neither is formatted until asked for.</summary>
    private void ApplyProxy(in ProxyHeader header)
    {
        if (header.Local)
            return;
        _proxyPeer = _peer; // trusted, hence read: Known
        _proxyText = _peerText;
        _proxied = true;
        _peer = header.Source;
        _peerState = PeerState.Known;
        _peerText = null;
    }

    /// <summary>The header is done: the connection goes on as a plain or TLS one would, its first
    /// data being the <paramref name="length"/> bytes read behind the header.</summary>
    private void FinishProxy(int start, int length)
    {
        byte[] buffer = _proxyBuffer!;
        _proxyBuffer = null;
        _proxyLocalIdle = false;
        _timer?.Cancel();
        _timer = null;
        if (_tls != null)
        {
            // The bytes behind the header are the client's first TLS records.
            buffer.AsSpan(start, length).CopyTo(new Span<byte>(_net.TlsInBuffer, NetContext.ReadBufferSize));
            _cipherIn = _net.TlsInBuffer;
            _cipherLeft = length;
            StartHandshake();
            if (_cipherLeft > 0 && _phase != Phase.Closed && _tls != null && !_tls.FeedCiphertext(new ReadOnlySpan<byte>(_cipherIn, _cipherLeft)))
                CloseUndelivered("TLS: out of memory");
            _cipherLeft = 0;
            _cipherIn = null;
        }
        else
        {
            UpdateInterest(); // a paused connection read only for its header
            Established();
            if (length > 0 && _phase == Phase.Connected)
            {
                EnsureKeptCapacity(length + NetContext.ReadBufferSize);
                buffer.AsSpan(start, length).CopyTo(new Span<byte>(_kept, _keptCapacity));
                _keptLength = length;
                if (_paused)
                    _proxyRestHeld = true; // paused in clientHandler: delivered on resume (ResumeProxyRest)
                else
                    Deliver(_kept, length);
            }
        }
        if (WantsToRead)
            Receive(); // edge-triggered: what is left in the kernel must be read now
    }

    /// <summary>resume() after a pause in clientHandler: the bytes that came behind the header
    /// are delivered on a later turn, as kernel data would be (no readiness event may come for
    /// them, they were read already).</summary>
    private void ResumeProxyRest() => _net.Loop.Post(_resumeProxyRest ??= DeliverProxyRest);

    private void DeliverProxyRest()
    {
        if (_proxyRestHeld && _phase == Phase.Connected && !_paused && _keptLength > 0)
        {
            _proxyRestHeld = false;
            Deliver(_kept, _keptLength);
        }
    }
}
