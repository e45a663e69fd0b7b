using System;
using System.Net;
using System.Runtime.InteropServices;
using MonaAot.Interop;

namespace MonaAot.Net.Tls;

/// <summary>
/// One TLS connection's state: an OpenSSL SSL between two memory BIOs, so the engine never
/// touches a socket and never blocks (docs/architecture.md, "TLS engine"). The owner feeds what
/// it reads from the socket (<see cref="FeedCiphertext"/>), drives the handshake or reads
/// plaintext, encrypts what the script sends (<see cref="WritePlaintext"/>), and after EVERY
/// call sends what <see cref="PendingCiphertext"/> says is waiting (<see cref="TakeCiphertext"/>):
/// handshake messages, records, session tickets, alerts and close_notify all come out there.
/// Everything goes through spans and OpenSSL's own memory: no managed allocation per record.
/// One thread at a time (the loop's); <see cref="Dispose"/> frees it all and is idempotent. A
/// disposed server session may serve the next accepted connection of the same connection
/// object (<see cref="CreateServer(TlsContext, TlsSession?, out string?)"/>): a fresh SSL from
/// the context, the managed object reused, so that an accepted TLS connection allocates no
/// managed memory (docs/architecture.md, "Connection pooling").
/// </summary>
public sealed unsafe class TlsSession : IDisposable
{
    private TlsContext _context;
    private string? _serverName;
    private nint _ssl;        // owns both BIOs (SSL_set_bio)
    private nint _readBio;    // ciphertext from the peer, read by OpenSSL
    private nint _writeBio;   // ciphertext for the peer, written by OpenSSL
    private bool _established;
    private bool _peerClosed;
    private bool _shutdownSent;
    private string? _version;
    private string? _alpn;
    private bool _alpnRead;
    private string? _peerSubject;
    private bool _peerSubjectRead;

    private TlsSession(TlsContext context, string? serverName)
    {
        _context = context;
        _serverName = serverName;
    }

    /// <summary>
    /// A client session: SNI and (with verification) the certificate's name checked against
    /// <paramref name="serverName"/> (an IP address is checked as one and sent without SNI,
    /// which names hosts only). Null with <paramref name="error"/> if OpenSSL fails.
    /// </summary>
    public static TlsSession? CreateClient(TlsContext context, string? serverName, out string? error)
    {
        if (context.IsServer)
            throw new ArgumentException("a client session needs a client context", nameof(context));
        TlsSession? session = Create(context, serverName, out error);
        if (session == null)
            return null;
        OpenSsl.SSL_set_connect_state(session._ssl);
        if (serverName != null && !session.SetServerName(serverName, context.Options.Verify, out error))
        {
            session.Dispose();
            return null;
        }
        return session;
    }

    /// <summary>A server session, for one accepted connection.</summary>
    public static TlsSession? CreateServer(TlsContext context, out string? error) => CreateServer(context, null, out error);

    /// <summary>A server session, for one accepted connection: <paramref name="spare"/>, a
    /// disposed session, made anew (a fresh SSL; its texts and state forgotten) when given,
    /// else a new object.</summary>
    public static TlsSession? CreateServer(TlsContext context, TlsSession? spare, out string? error)
    {
        if (!context.IsServer)
            throw new ArgumentException("a server session needs a server context", nameof(context));
        if (spare is { _ssl: not 0 })
            throw new InvalidOperationException("TLS: a session in use cannot serve another connection");
        TlsSession? session = spare is null ? Create(context, null, out error) : spare.Open(context, null, out error) ? spare : null;
        if (session != null)
            OpenSsl.SSL_set_accept_state(session._ssl);
        return session;
    }

    private static TlsSession? Create(TlsContext context, string? serverName, out string? error)
    {
        var session = new TlsSession(context, serverName);
        return session.Open(context, serverName, out error) ? session : null;
    }

    /// <summary>Makes this (new or disposed) session a fresh one of <paramref name="context"/>:
    /// an SSL between two memory BIOs, nothing negotiated or read yet. False with
    /// <paramref name="error"/> if OpenSSL fails (the session stays disposed).</summary>
    private bool Open(TlsContext context, string? serverName, out string? error)
    {
        error = null;
        nint ctx = context.Handle;
        if (ctx == 0)
            throw new ObjectDisposedException(nameof(TlsContext));
        OpenSsl.ERR_clear_error();
        nint ssl = OpenSsl.SSL_new(ctx);
        if (ssl == 0)
        {
            error = TlsFailure.TakeErrorQueue("TLS: cannot make a session");
            return false;
        }
        nint read = OpenSsl.BIO_new(OpenSsl.BIO_s_mem());
        nint write = OpenSsl.BIO_new(OpenSsl.BIO_s_mem());
        if (read == 0 || write == 0)
        {
            // BIO_free is not bound: hand whatever was made to the SSL, which frees it.
            OpenSsl.SSL_set_bio(ssl, read, write);
            OpenSsl.SSL_free(ssl);
            error = TlsFailure.TakeErrorQueue("TLS: cannot make a memory BIO");
            return false;
        }
        OpenSsl.SSL_set_bio(ssl, read, write);
        context.AddReference();
        _context = context;
        _serverName = serverName;
        _ssl = ssl;
        _readBio = read;
        _writeBio = write;
        _established = _peerClosed = _shutdownSent = false;
        _version = null;
        _alpn = null;
        _alpnRead = false;
        _peerSubject = null;
        _peerSubjectRead = false;
        Failure = null;
        return true;
    }

    private bool SetServerName(string serverName, bool verify, out string? error)
    {
        error = null;
        fixed (byte* name = TlsContext.CString(serverName))
        {
            bool isAddress = IPAddress.TryParse(serverName, out _);
            if (!isAddress && OpenSsl.SSL_set_tlsext_host_name(_ssl, name) != 1)
                error = TlsFailure.TakeErrorQueue($"TLS: cannot use the server name {serverName}");
            else if (verify && !isAddress && OpenSsl.SSL_set1_host(_ssl, name) != 1)
                error = TlsFailure.TakeErrorQueue($"TLS: cannot check the server name {serverName}");
            else if (verify && isAddress && OpenSsl.X509_VERIFY_PARAM_set1_ip_asc(OpenSsl.SSL_get0_param(_ssl), name) != 1)
                error = TlsFailure.TakeErrorQueue($"TLS: cannot check the server address {serverName}");
        }
        return error == null;
    }

    /// <summary>True once the handshake is done: plaintext may flow.</summary>
    public bool IsEstablished => _established;

    /// <summary>True once the peer's close_notify arrived (<see cref="ReadPlaintext"/> said
    /// <see cref="TlsStatus.Closed"/>).</summary>
    public bool PeerClosed => _peerClosed;

    /// <summary>Why the session failed (set with the first <see cref="TlsStatus.Failed"/>),
    /// e.g. "certificate not trusted (self-signed certificate)", "name mismatch (...)",
    /// "certificate expired", "client certificate missing", "refused by the peer (...)",
    /// "protocol error (...)".</summary>
    public string? Failure { get; private set; }

    /// <summary>Ciphertext bytes waiting to be sent to the peer.</summary>
    public int PendingCiphertext => _writeBio == 0 ? 0 : (int)Math.Min(OpenSsl.BIO_ctrl_pending(_writeBio), int.MaxValue);

    /// <summary>Bytes read from the socket, for OpenSSL to read. False only if OpenSSL could
    /// not allocate (the session should then end).</summary>
    public bool FeedCiphertext(ReadOnlySpan<byte> ciphertext)
    {
        ThrowIfDisposed();
        while (!ciphertext.IsEmpty)
        {
            int length = ciphertext.Length;
            int written;
            fixed (byte* bytes = ciphertext)
                written = OpenSsl.BIO_write(_readBio, bytes, length);
            if (written <= 0)
                return false;
            ciphertext = ciphertext[written..];
        }
        return true;
    }

    /// <summary>Moves up to <paramref name="into"/>'s length of pending ciphertext out; returns
    /// how many bytes (0 when none is pending).</summary>
    public int TakeCiphertext(Span<byte> into)
    {
        ThrowIfDisposed();
        if (into.IsEmpty)
            return 0;
        int length = into.Length;
        int read;
        fixed (byte* bytes = into)
            read = OpenSsl.BIO_read(_writeBio, bytes, length);
        return read > 0 ? read : 0;
    }

    /// <summary>
    /// Takes the handshake as far as the ciphertext fed so far allows: <see cref="TlsStatus.Done"/>
    /// (then call <see cref="ReadPlaintext"/> too: the peer's first records may already have come
    /// with the last handshake bytes), <see cref="TlsStatus.NeedMore"/> or
    /// <see cref="TlsStatus.Failed"/>. Send the pending ciphertext in every case.
    /// </summary>
    public TlsStatus Handshake()
    {
        ThrowIfDisposed();
        if (Failure != null)
            return TlsStatus.Failed;
        if (_established)
            return TlsStatus.Done;
        OpenSsl.ERR_clear_error();
        int result = OpenSsl.SSL_do_handshake(_ssl);
        if (result == 1)
        {
            _established = true;
            return TlsStatus.Done;
        }
        TlsStatus status = Outcome(result);
        if (status == TlsStatus.Closed)
        {
            Failure = "protocol error (closed by the peer during the handshake)";
            return TlsStatus.Failed;
        }
        return status;
    }

    /// <summary>
    /// Decrypts into <paramref name="into"/>: <see cref="TlsStatus.Done"/> with
    /// <paramref name="count"/> bytes (call again: more may be buffered), <see cref="TlsStatus.NeedMore"/>
    /// when nothing more can be decrypted yet, <see cref="TlsStatus.Closed"/> after the peer's
    /// close_notify, or <see cref="TlsStatus.Failed"/>. In TLS 1.3 a client learns here that the
    /// server refused its certificate (the server decides after the client's handshake ended).
    /// </summary>
    public TlsStatus ReadPlaintext(Span<byte> into, out int count)
    {
        ThrowIfDisposed();
        count = 0;
        if (Failure != null)
            return TlsStatus.Failed;
        if (_peerClosed)
            return TlsStatus.Closed;
        if (!_established)
            throw new InvalidOperationException("TLS: reading before the handshake is done");
        if (into.IsEmpty)
            throw new ArgumentException("an empty buffer", nameof(into));
        int length = into.Length;
        int result;
        OpenSsl.ERR_clear_error();
        fixed (byte* bytes = into)
            result = OpenSsl.SSL_read(_ssl, bytes, length);
        if (result > 0)
        {
            count = result;
            return TlsStatus.Done;
        }
        return Outcome(result);
    }

    /// <summary>
    /// Encrypts all of <paramref name="plaintext"/> into pending ciphertext (records of up to
    /// 16 KiB): <see cref="TlsStatus.Done"/> or <see cref="TlsStatus.Failed"/>. The memory BIO
    /// grows to hold it, so the owner bounds memory by what it passes per call.
    /// </summary>
    public TlsStatus WritePlaintext(ReadOnlySpan<byte> plaintext)
    {
        ThrowIfDisposed();
        if (Failure != null)
            return TlsStatus.Failed;
        if (!_established)
            throw new InvalidOperationException("TLS: writing before the handshake is done");
        while (!plaintext.IsEmpty)
        {
            int length = plaintext.Length;
            int result;
            OpenSsl.ERR_clear_error();
            fixed (byte* bytes = plaintext)
                result = OpenSsl.SSL_write(_ssl, bytes, length);
            if (result <= 0)
            {
                // A memory BIO takes every write and renegotiation is off, so anything but a
                // failure here is unexpected: it ends the session too.
                if (Outcome(result) != TlsStatus.Failed)
                    Failure = "protocol error (a record could not be written)";
                return TlsStatus.Failed;
            }
            plaintext = plaintext[result..];
        }
        return TlsStatus.Done;
    }

    /// <summary>
    /// Queues close_notify (once) as pending ciphertext; false when there is none to send
    /// (the handshake is not done, the session failed, or it was already sent). The peer's
    /// own close_notify is not awaited: <see cref="PeerClosed"/> says whether it came.
    /// </summary>
    public bool Shutdown()
    {
        if (_ssl == 0 || _shutdownSent || !_established || Failure != null)
            return false;
        OpenSsl.ERR_clear_error();
        int result = OpenSsl.SSL_shutdown(_ssl);
        OpenSsl.ERR_clear_error();
        _shutdownSent = result >= 0;
        return _shutdownSent;
    }

    /// <summary>The negotiated version ("TLSv1.3", "TLSv1.2"); null before the handshake.</summary>
    public string? Version
    {
        get
        {
            if (_version == null && _established && _ssl != 0)
                _version = VersionText(OpenSsl.SSL_get_version(_ssl));
            return _version;
        }
    }

    /// <summary>The versions MonaAot negotiates, as constant strings: a script reading
    /// tlsVersion on every connection makes no string per connection.</summary>
    private static string? VersionText(byte* text)
    {
        if (text == null)
            return null;
        ReadOnlySpan<byte> version = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(text);
        if (version.SequenceEqual("TLSv1.3"u8))
            return "TLSv1.3";
        if (version.SequenceEqual("TLSv1.2"u8))
            return "TLSv1.2";
        return OpenSsl.Text(text);
    }

    /// <summary>The protocol ALPN chose, or null.</summary>
    public string? Alpn
    {
        get
        {
            if (!_alpnRead && _established && _ssl != 0)
            {
                byte* data;
                uint length;
                OpenSsl.SSL_get0_alpn_selected(_ssl, &data, &length);
                _alpn = data == null || length == 0 ? null : AlpnText(new ReadOnlySpan<byte>(data, (int)length));
                _alpnRead = true;
            }
            return _alpn;
        }
    }

    /// <summary>The chosen protocol as the context's own string when it is an ASCII name the
    /// options listed: a script reading alpn on every connection makes no string per
    /// connection. A name with other chars is decoded (its chars are not its UTF-8 bytes: one
    /// listed name's chars may be another's bytes).</summary>
    private string AlpnText(ReadOnlySpan<byte> chosen)
    {
        if (_context.Options.Alpn is { } names)
        {
            for (int n = 0; n < names.Count; n++) // not foreach: the interface's enumerator is an object
            {
                string name = names[n];
                if (name.Length != chosen.Length)
                    continue;
                int i = 0;
                while (i < name.Length && name[i] < 0x80 && name[i] == chosen[i])
                    i++;
                if (i == name.Length)
                    return name;
            }
        }
        return System.Text.Encoding.UTF8.GetString(chosen);
    }

    /// <summary>The subject of the peer's certificate ("/CN=localhost"), or null when the peer
    /// sent none.</summary>
    public string? PeerSubject
    {
        get
        {
            if (!_peerSubjectRead && _established && _ssl != 0)
            {
                nint certificate = OpenSsl.SSL_get1_peer_certificate(_ssl);
                if (certificate != 0)
                {
                    byte* text = stackalloc byte[512];
                    _peerSubject = OpenSsl.Text(OpenSsl.X509_NAME_oneline(OpenSsl.X509_get_subject_name(certificate), text, 512));
                    OpenSsl.X509_free(certificate);
                }
                _peerSubjectRead = true;
            }
            return _peerSubject;
        }
    }

    /// <summary>What an SSL call that did not succeed means; a failure is recorded once.</summary>
    private TlsStatus Outcome(int result)
    {
        int error = OpenSsl.SSL_get_error(_ssl, result);
        switch (error)
        {
            case OpenSsl.SSL_ERROR_WANT_READ:
            case OpenSsl.SSL_ERROR_WANT_WRITE: // a memory BIO takes every write; kept for safety
                return TlsStatus.NeedMore;
            case OpenSsl.SSL_ERROR_ZERO_RETURN:
                _peerClosed = true;
                OpenSsl.ERR_clear_error();
                return TlsStatus.Closed;
            default:
                Failure = TlsFailure.Describe(_ssl, error, _serverName);
                return TlsStatus.Failed;
        }
    }

    private void ThrowIfDisposed()
    {
        if (_ssl == 0)
            throw new ObjectDisposedException(nameof(TlsSession));
    }

    /// <summary>Frees the SSL, its BIOs and buffered bytes, and the session's hold on its
    /// context. Idempotent.</summary>
    public void Dispose()
    {
        if (_ssl == 0)
            return;
        OpenSsl.SSL_free(_ssl);
        _ssl = 0;
        _readBio = 0;
        _writeBio = 0;
        _context.Release();
    }
}
