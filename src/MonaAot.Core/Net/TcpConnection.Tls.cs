using System;
using MonaAot.Interop;
using MonaAot.Net.Tls;
using MonaAot.Reactor;

namespace MonaAot.Net;

/// <summary>
/// A connection carrying TLS (docs/architecture.md, "TLS on a connection"). The session sits
/// between the socket and the owner: what is read is ciphertext fed to it, and the plaintext it
/// gives is delivered as on a plain connection; what the owner sends is plaintext, held in
/// <see cref="_plain"/> until the handshake is done and while the ciphertext queue is above its
/// high mark, encrypted a bounded step at a time, and the ciphertext goes the plain path's way
/// (straight to the kernel, the rest to the queue). The owner hears of the connection only once
/// the handshake is done, which [tls] handshakeTimeout bounds. An end sends close_notify before
/// the FIN; the peer's close_notify ends reading as a FIN does. The plain path pays one null
/// check on receive and one on send; direct writes stay off (<see cref="PublishGate"/>).
/// An accepted TLS connection is pooled as a plain one is (TcpConnection.Recycling.cs): what it
/// made once, its session object, plaintext queue, handshake timer and delegates, stays with
/// the connection object for its next accept (<see cref="ParkTls"/>), so that accepting and
/// closing allocate no managed memory (docs/architecture.md, "Connection pooling").
/// </summary>
public sealed unsafe partial class TcpConnection
{
    /// <summary>Plaintext encrypted per step while the ciphertext queue is under its high mark,
    /// a record at a time (<see cref="TlsRecord"/>), sent in one piece.</summary>
    private const int TlsStep = 64 * 1024;

    /// <summary>Ciphertext queued for the kernel above which plaintext waits unencrypted.</summary>
    private const int TlsHighMark = 256 * 1024;

    /// <summary>What the session is given or asked for at a time: about one record (16 KiB of
    /// plaintext, its header and tag). OpenSSL's memory BIOs keep their largest size until the
    /// session ends, so feeding a whole 120 KiB read, or encrypting 64 KiB at once, would leave
    /// every connection that once had a burst holding that much; a record at a time, a read is
    /// still delivered at once and a step still sent at once.</summary>
    private const int TlsRecord = 16 * 1024 + 512;

    private TlsSession? _tls;
    private SendQueue? _plain;          // plaintext not encrypted yet
    private LoopTimer? _handshakeTimer; // made once per connection object, armed per handshake
    private TlsSession? _spareTls;      // a former connection's session, disposed, for the next accept
    private SendQueue? _sparePlain;     // and its plaintext queue, empty
    private bool _closeNotifyQueued;
    private bool _tlsDelivered;         // plaintext reached the owner: a later failure is no handshake's
    private Action? _readTlsLater;
    private byte* _cipherIn;            // during ReceiveTls: ciphertext read and not fed yet
    private int _cipherLeft;

    /// <summary>A TLS client connection to <paramref name="serverName"/> (SNI and the name
    /// checked); connects as <see cref="ForConnect(NetContext, ITcpConnectionEvents)"/> does, the
    /// handshake follows. Null with <paramref name="error"/> when the session cannot be made.</summary>
    public static TcpConnection? ForConnect(NetContext net, ITcpConnectionEvents events, TlsContext context, string? serverName, out string? error)
    {
        TlsSession? session = TlsSession.CreateClient(context, serverName, out error);
        if (session == null)
            return null;
        TcpConnection connection = ForConnect(net, events);
        connection.UseTls(session);
        return connection;
    }

    /// <summary>Adopts an accepted descriptor for a TLS server: the owner hears
    /// <see cref="ITcpConnectionEvents.OnConnected"/> once the handshake is done, or
    /// <see cref="ITcpConnectionEvents.OnClosed"/> with why it failed.</summary>
    public static TcpConnection AcceptedTls(NetContext net, nint fd, ITcpConnectionEvents events, TlsContext context)
    {
        TcpConnection connection = Accepted(net, fd, events);
        TlsSession? session = TlsSession.CreateServer(context, connection._spareTls, out string? error);
        if (session == null)
        {
            net.Stats.TlsHandshakeFailures++;
            connection.Close($"TLS handshake failed: {error}");
            return connection;
        }
        connection._spareTls = null;
        connection.UseTls(session);
        connection.StartHandshake();
        return connection;
    }

    private void UseTls(TlsSession session)
    {
        _tls = session;
        _plain = _sparePlain ?? new SendQueue(_net.Chunks);
        _sparePlain = null;
        PublishGate();
    }

    /// <summary>On reuse (TcpConnection.Recycling.cs): a former TLS connection's session, closed
    /// and disposed by <see cref="EndTls"/>, and its emptied plaintext queue are kept apart for
    /// the next TLS accept; the connection itself is plain until <see cref="UseTls"/> says
    /// otherwise. The handshake timer (cancelled) and the delegates stay as they are.</summary>
    private void ParkTls()
    {
        if (_tls != null)
        {
            _spareTls = _tls;
            _tls = null;
        }
        if (_plain != null)
        {
            _sparePlain = _plain;
            _plain = null;
        }
        _closeNotifyQueued = _tlsDelivered = false;
    }

    /// <summary>True for a TLS connection, whatever its state.</summary>
    public bool IsSecure => _tls != null;

    /// <summary>The negotiated version ("TLSv1.3"), null before the handshake is done.</summary>
    public string? TlsVersion => _tls is { IsEstablished: true } ? _tls.Version : null;

    /// <summary>The protocol ALPN chose, or null.</summary>
    public string? TlsAlpn => _tls is { IsEstablished: true } ? _tls.Alpn : null;

    /// <summary>The subject of the peer's certificate, or null.</summary>
    public string? TlsPeerSubject => _tls is { IsEstablished: true } ? _tls.PeerSubject : null;

    /// <summary>A TLS connection whose handshake is not done, or one whose PROXY header is awaited
    /// (TcpConnection.Proxy.cs): not connected for the owner yet.</summary>
    private bool Handshaking => _proxyBuffer != null || _tls is { IsEstablished: false };

    /// <summary>The socket is connected: the handshake starts (a client sends its hello), bounded
    /// by [tls] handshakeTimeout.</summary>
    private void StartHandshake()
    {
        _handshakeTimer ??= _net.Loop.CreateTimer(TimeOutHandshake);
        _net.Loop.Restart(_handshakeTimer, _net.Limits.TlsHandshakeTimeoutMs);
        AdvanceHandshake();
    }

    /// <summary>Closes a connection whose handshake failed, counting it
    /// (monaaot_errors_total{class="tls"}).</summary>
    private void FailHandshake(string reason)
    {
        _net.Stats.TlsHandshakeFailures++;
        CloseUndelivered(reason);
    }

    private void TimeOutHandshake()
    {
        if (_phase == Phase.Connected && Handshaking)
            FailHandshake($"TLS handshake failed: timed out after {_net.Limits.TlsHandshakeTimeoutMs / 1000} s ([tls] handshakeTimeout)");
    }

    /// <summary>Takes the handshake as far as what was read allows.</summary>
    private void AdvanceHandshake()
    {
        TlsStatus status;
        while (true)
        {
            status = _tls!.Handshake();
            if (!SendCiphertext())
                return;
            if (status != TlsStatus.NeedMore || _cipherLeft == 0)
                break;
            if (!FeedRecord())
                return;
        }
        if (status == TlsStatus.Failed)
        {
            FailHandshake($"TLS handshake failed: {_tls.Failure}"); // a disconnect's queue says what it lost
            return;
        }
        if (status != TlsStatus.Done)
            return;
        _handshakeTimer?.Cancel();
        UpdateInterest(); // a paused connection read only for its handshake
        // What the owner sent meanwhile goes first, then the owner hears of the connection (and
        // may send more behind it); the peer's first records may have come with the handshake.
        bool held = !_plain!.IsEmpty;
        if (!PumpPlaintext())
            return;
        Established();
        // What was sent while connecting has all gone to the kernel already (straight, not
        // through the queue, whose flush would have said so).
        if (held && _phase == Phase.Connected && NothingToSend && !_shutdownRequested)
            _events?.OnFlushed(this);
        if (_phase is Phase.Connected or Phase.Draining)
            ReadTls();
    }

    /// <summary>Reads ciphertext: a few reads per readiness event, as <see cref="Receive"/>.</summary>
    private void ReceiveTls()
    {
        for (int round = 0; round < 4 && WantsToRead; round++)
        {
            byte* buffer = _net.TlsInBuffer;
            CallResult received = SocketCalls.Receive(_fd, buffer, NetContext.ReadBufferSize);
            nint n = received.Value;
            if (n > 0)
            {
                _net.Stats.BytesReceived += n;
                _activity++;
                // Fed a record at a time, as the handshake or the reads ask for more; the
                // plaintext goes to the read buffer, apart.
                _cipherIn = buffer;
                _cipherLeft = (int)n;
                if (FeedRecord())
                {
                    if (Handshaking)
                        AdvanceHandshake();
                    else
                        ReadTls();
                }
                // What the owner did not take (paused) waits in the session, whole: the read
                // buffer is shared by every connection of the loop.
                bool open = _phase != Phase.Closed && _tls != null;
                if (_cipherLeft > 0 && open && !_tls!.FeedCiphertext(new ReadOnlySpan<byte>(_cipherIn, _cipherLeft)))
                    CloseUndelivered("TLS: out of memory");
                _cipherLeft = 0;
                _cipherIn = null;
                if (!open || n < NetContext.ReadBufferSize)
                    return;
                continue;
            }
            if (n == 0)
            {
                if (Handshaking)
                    FailHandshake("TLS handshake failed: protocol error (connection closed by the peer)");
                else
                    OnPeerClosed(); // a FIN without close_notify ends reading all the same
                return;
            }
            int errno = received.Error;
            if (errno == Libc.EINTR)
                continue;
            if (errno != Libc.EAGAIN)
                CloseUndelivered(Failure("receive", errno)); // a peer's reset: its text made only if read
            return;
        }
    }

    /// <summary>Delivers what the session can decrypt, while the owner reads (a closing
    /// connection decrypts and drops, only to see the peer's close_notify).</summary>
    private void ReadTls()
    {
        while (WantsToRead && _tls is { IsEstablished: true } tls)
        {
            byte* into;
            int capacity;
            bool keep = _keptLength > 0 && _phase == Phase.Connected;
            if (keep)
            {
                EnsureKeptCapacity(_keptLength + NetContext.ReadBufferSize);
                into = _kept + _keptLength;
                capacity = _keptCapacity - _keptLength;
            }
            else
            {
                into = _net.ReadBuffer;
                capacity = NetContext.ReadBufferSize;
            }
            // As much as the buffer takes, for one delivery: records are 16 KiB at most, and a
            // call into the owner (a script) per record would cost more than the decryption.
            int filled = 0;
            TlsStatus status;
            do
            {
                status = tls.ReadPlaintext(new Span<byte>(into + filled, capacity - filled), out int count);
                filled += count;
                if (status == TlsStatus.NeedMore && _cipherLeft > 0)
                {
                    if (!FeedRecord())
                        return;
                    status = TlsStatus.Done;
                }
            }
            while (status == TlsStatus.Done && filled < capacity);
            if (!SendCiphertext()) // TLS 1.3 tickets and key updates come out of reads
                return;
            if (filled > 0)
            {
                _tlsDelivered = true;
                if (_phase == Phase.Connected)
                {
                    Deliver(keep ? _kept : into, _keptLength + filled);
                    // The loop's test sees a pause or an end the handler caused; the session
                    // answers Closed again on the next read, after a resume if paused.
                    if (status != TlsStatus.Failed)
                        continue;
                }
            }
            switch (status)
            {
                case TlsStatus.Done:
                    continue;
                case TlsStatus.Closed:
                    OnPeerClosed(); // close_notify: the end of the peer's data, as a FIN
                    return;
                case TlsStatus.Failed:
                    // A TLS 1.3 server refuses a client certificate after the client's handshake ended.
                    if (_tlsDelivered)
                        CloseUndelivered($"TLS: {tls.Failure}");
                    else
                        FailHandshake($"TLS handshake failed: {tls.Failure}");
                    return;
                default:
                    return;
            }
        }
    }

    /// <summary>resume(): what the session decrypted and kept while paused is delivered on a
    /// later turn, as a plain connection's kernel data would be (no readiness event may come).</summary>
    private void ResumeTls() => _net.Loop.Post(_readTlsLater ??= () =>
    {
        if (_phase == Phase.Connected && !_paused && !Handshaking)
            ReadTls();
    });

    /// <summary>send() on a TLS connection: plaintext waits while the handshake is not done,
    /// while older plaintext waits, or while the ciphertext queue is above its high mark;
    /// otherwise it is encrypted a step at a time and the ciphertext sent.</summary>
    private string? SendTls(ReadOnlySpan<byte> data)
    {
        if (Queued + data.Length > _net.Limits.MaxQueuedBytes)
            return OverLimit();
        while (!data.IsEmpty)
        {
            if (_phase != Phase.Connected || Handshaking || !_plain!.IsEmpty || _queue.Length >= TlsHighMark)
            {
                _plain!.Append(data);
                return null;
            }
            int step = Math.Min(data.Length, TlsStep);
            if (!Encrypt(data[..step]))
                return "not connected";
            data = data[step..];
        }
        return null;
    }

    /// <summary>Encrypts plaintext held back, a step at a time, while the ciphertext queue is
    /// under its high mark. False when the connection closed.</summary>
    private bool PumpPlaintext()
    {
        while (_phase is Phase.Connected or Phase.Draining && !Handshaking
               && _plain!.TryPeek(out byte* data, out int length) && _queue.Length < TlsHighMark)
        {
            if (!Encrypt(new ReadOnlySpan<byte>(data, length)))
                return false;
            _plain.Consume(length);
        }
        return _phase != Phase.Closed;
    }

    /// <summary>Gives the session the next record's worth of what was read. False when the
    /// connection closed (out of memory).</summary>
    private bool FeedRecord()
    {
        int n = Math.Min(_cipherLeft, TlsRecord);
        bool fed = _tls!.FeedCiphertext(new ReadOnlySpan<byte>(_cipherIn, n));
        _cipherIn += n;
        _cipherLeft -= n;
        if (!fed)
        {
            _cipherLeft = 0;
            CloseUndelivered("TLS: out of memory");
        }
        return fed;
    }

    /// <summary>Encrypts a step a record at a time, each record's ciphertext taken out at once
    /// into the cipher buffer, which then goes out in one send.</summary>
    private bool Encrypt(ReadOnlySpan<byte> plaintext)
    {
        byte* buffer = _net.CipherBuffer;
        int filled = 0;
        while (!plaintext.IsEmpty)
        {
            int n = Math.Min(plaintext.Length, TlsRecord);
            if (_tls!.WritePlaintext(plaintext[..n]) == TlsStatus.Failed)
            {
                CloseUndelivered($"TLS: {_tls.Failure}");
                return false;
            }
            plaintext = plaintext[n..];
            while (_tls.PendingCiphertext > 0 && filled < NetContext.CipherBufferSize)
            {
                int taken = _tls.TakeCiphertext(new Span<byte>(buffer + filled, NetContext.CipherBufferSize - filled));
                if (taken == 0)
                    break;
                filled += taken;
            }
        }
        if (filled > 0 && !SendCipherBytes(new ReadOnlySpan<byte>(buffer, filled)))
            return false;
        return SendCiphertext(); // what did not fit, behind what did
    }

    /// <summary>Moves the session's ciphertext out: straight to the kernel while nothing is
    /// queued, else behind the queue. False when the connection closed (a send failed).</summary>
    private bool SendCiphertext()
    {
        byte* buffer = _net.CipherBuffer;
        while (_tls!.PendingCiphertext > 0)
        {
            int n = _tls.TakeCiphertext(new Span<byte>(buffer, NetContext.CipherBufferSize));
            if (n == 0)
                break;
            if (!SendCipherBytes(new ReadOnlySpan<byte>(buffer, n)))
                return false;
        }
        return _phase != Phase.Closed;
    }

    /// <summary>Ciphertext to the kernel while nothing is queued, else behind the queue. False
    /// when the connection closed (a send failed).</summary>
    private bool SendCipherBytes(ReadOnlySpan<byte> ciphertext)
    {
        if (_queue.IsEmpty && PostedBytes == 0)
            return SendDirect(ciphertext) == null;
        _queue.Append(ciphertext);
        UpdateInterest();
        return true;
    }

    /// <summary>Before the FIN: close_notify, once, after everything queued. True when it is
    /// handed to the kernel (the FIN may follow), false while it waits in the queue.</summary>
    private bool CloseNotifySent()
    {
        if (!_closeNotifyQueued)
        {
            _closeNotifyQueued = true;
            _tls!.Shutdown();
            if (!SendCiphertext())
                return false;
        }
        return _queue.IsEmpty;
    }

    /// <summary>The connection closes: a normal close (not <paramref name="failed"/>) still says
    /// close_notify if it can, in one try; the session's native memory goes.</summary>
    private void EndTls(bool failed)
    {
        _handshakeTimer?.Cancel();
        TlsSession tls = _tls!;
        if (!failed && _fd >= 0 && !_closeNotifyQueued && tls.IsEstablished && tls.Shutdown())
        {
            _closeNotifyQueued = true;
            byte* buffer = _net.CipherBuffer;
            int n = tls.TakeCiphertext(new Span<byte>(buffer, NetContext.CipherBufferSize));
            if (n > 0 && _queue.IsEmpty)
                SocketCalls.Send(_fd, buffer, n); // best effort: the socket closes next
        }
        tls.Dispose();
        _plain!.Clear();
    }
}
