using System;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using MonaAot.Interop;

namespace MonaAot.Net.Tls;

/// <summary>
/// One TLS connection's state on Windows: a Schannel context driven through SSPI with byte
/// buffers (the counterpart of TlsSession.Unix.cs, same members and the same contract): the
/// owner feeds what it reads (<see cref="FeedCiphertext"/>), drives the handshake or reads
/// plaintext, encrypts what the script sends, and after EVERY call sends what
/// <see cref="PendingCiphertext"/> says is waiting. The ciphertext read and the ciphertext to
/// send live in native buffers of about a record each, freed whenever they empty (as OpenSSL's
/// SSL_MODE_RELEASE_BUFFERS does), so an idle connection holds none; records are decrypted in
/// place. No managed allocation per record; the handshake's end (checking the peer's
/// certificate) allocates once. One thread at a time (the loop's).
/// </summary>
public sealed unsafe class TlsSession : IDisposable
{
    private const int RecordHeader = 5;            // a TLS record's type, version and length
    private const int Slack = 2 * 1024;            // room above a record's worth, to grow less often

    private readonly TlsContext _context;
    private readonly string? _serverName;           // client: what the certificate must name
    private char* _target;                          // client: SNI, UTF-16 with a NUL (null for an address)
    private Sspi.SecHandle* _handle;                // the Schannel context, in native memory
    private bool _hasContext;

    // Ciphertext read and not yet used: [_in + _inStart, + _inLength). Plaintext decrypted in
    // place and not yet taken: [_plain, + _plainLength), before _inStart.
    private byte* _in;
    private int _inCapacity;
    private int _inStart;
    private int _inLength;
    private byte* _plain;
    private int _plainLength;

    // Ciphertext for the peer: [_out + _outStart, + _outLength).
    private byte* _out;
    private int _outCapacity;
    private int _outStart;
    private int _outLength;

    private Sspi.SecPkgContext_StreamSizes _sizes;
    private bool _established;
    private bool _peerClosed;
    private bool _shutdownSent;
    private bool _postHandshake;                    // a post-handshake message (TLS 1.3 ticket, key update) is being taken
    private bool _credentialsRetried;
    private X509Certificate2? _peer;
    private string? _version;
    private string? _alpn;
    private bool _alpnRead;
    private string? _peerSubject;
    private bool _peerSubjectRead;

    private TlsSession(TlsContext context, string? serverName)
    {
        _context = context;
        _serverName = serverName;
        _handle = (Sspi.SecHandle*)NativeMemory.AllocZeroed((nuint)sizeof(Sspi.SecHandle));
        context.AddReference();
    }

    /// <summary>A client session: SNI and (with verification) the certificate's name checked
    /// against <paramref name="serverName"/> (an address is checked as one and sent without SNI,
    /// which names hosts only).</summary>
    public static TlsSession? CreateClient(TlsContext context, string? serverName, out string? error)
    {
        if (context.IsServer)
            throw new ArgumentException("a client session needs a client context", nameof(context));
        _ = context.Credential; // throws if disposed
        error = null;
        var session = new TlsSession(context, serverName);
        if (serverName != null && !IPAddress.TryParse(serverName, out _))
        {
            session._target = (char*)NativeMemory.Alloc((nuint)(serverName.Length + 1), sizeof(char));
            serverName.AsSpan().CopyTo(new Span<char>(session._target, serverName.Length));
            session._target[serverName.Length] = '\0';
        }
        return session;
    }

    /// <summary>A server session, for one accepted connection.</summary>
    public static TlsSession? CreateServer(TlsContext context, out string? error)
    {
        if (!context.IsServer)
            throw new ArgumentException("a server session needs a server context", nameof(context));
        _ = context.Credential;
        error = null;
        return new TlsSession(context, null);
    }

    /// <summary>A server session, for one accepted connection. <paramref name="spare"/> (a
    /// disposed session the connection object kept) is not reused here: SChannel's session
    /// holds buffers and handles of its own, and only the Linux build reuses sessions so far
    /// (docs/architecture.md, "Connection pooling").</summary>
    public static TlsSession? CreateServer(TlsContext context, TlsSession? spare, out string? error) => CreateServer(context, out error);

    /// <summary>True once the handshake is done: plaintext may flow.</summary>
    public bool IsEstablished => _established;

    /// <summary>True once the peer's close_notify arrived.</summary>
    public bool PeerClosed => _peerClosed;

    /// <summary>Why the session failed (set with the first <see cref="TlsStatus.Failed"/>), in
    /// the words of the Linux engine: "certificate not trusted (...)", "name mismatch (...)",
    /// "certificate expired", "client certificate missing", "protocol error (...)".</summary>
    public string? Failure { get; private set; }

    /// <summary>Ciphertext bytes waiting to be sent to the peer.</summary>
    public int PendingCiphertext => _outLength;

    /// <summary>Bytes read from the socket, for Schannel to read. False only when memory runs out.</summary>
    public bool FeedCiphertext(ReadOnlySpan<byte> ciphertext)
    {
        ThrowIfDisposed();
        if (ciphertext.IsEmpty)
            return true;
        if (!MakeRoomIn(ciphertext.Length))
            return false;
        ciphertext.CopyTo(new Span<byte>(_in + _inStart + _inLength, ciphertext.Length));
        _inLength += ciphertext.Length;
        return true;
    }

    /// <summary>Moves up to <paramref name="into"/>'s length of pending ciphertext out; returns
    /// how many bytes (0 when none is pending).</summary>
    public int TakeCiphertext(Span<byte> into)
    {
        ThrowIfDisposed();
        int n = Math.Min(into.Length, _outLength);
        if (n == 0)
            return 0;
        new ReadOnlySpan<byte>(_out + _outStart, n).CopyTo(into);
        _outStart += n;
        _outLength -= n;
        if (_outLength == 0)
            _outStart = 0; // kept while records flow; given back when reading idles (NeedMore)
        return n;
    }

    /// <summary>
    /// Takes the handshake as far as the ciphertext fed so far allows: <see cref="TlsStatus.Done"/>
    /// (then call <see cref="ReadPlaintext"/> too), <see cref="TlsStatus.NeedMore"/> or
    /// <see cref="TlsStatus.Failed"/>. Send the pending ciphertext in every case.
    /// </summary>
    public TlsStatus Handshake()
    {
        ThrowIfDisposed();
        if (Failure != null)
            return TlsStatus.Failed;
        if (_established)
            return TlsStatus.Done;
        while (true)
        {
            bool clientHello = !_hasContext && !_context.IsServer;
            if (!clientHello && _inLength == 0)
                return TlsStatus.NeedMore;
            int status = Step(withInput: true);
            switch (status)
            {
                case Sspi.SEC_E_OK:
                    return Establish();
                case Sspi.SEC_I_CONTINUE_NEEDED:
                    if (_inLength > 0)
                        continue; // the peer's next messages came in the same read
                    return TlsStatus.NeedMore;
                case Sspi.SEC_E_INCOMPLETE_MESSAGE:
                    return TlsStatus.NeedMore;
                case Sspi.SEC_I_INCOMPLETE_CREDENTIALS when !_credentialsRetried:
                    // The server asked for a certificate this client was not given: the next
                    // call goes on without one, and the server decides.
                    _credentialsRetried = true;
                    continue;
                case Sspi.SEC_I_CONTEXT_EXPIRED:
                    Failure = "protocol error (closed by the peer during the handshake)";
                    return TlsStatus.Failed;
                default:
                    return Fail(status);
            }
        }
    }

    /// <summary>One InitializeSecurityContext or AcceptSecurityContext call on the unread input
    /// (or on none: close_notify after ApplyControlToken): its output (handshake messages, alerts) goes to the pending
    /// ciphertext, and what it did not use (SECBUFFER_EXTRA) stays as the unread input.</summary>
    private int Step(bool withInput)
    {
        byte* input = withInput ? _in + _inStart : null;
        int length = withInput ? _inLength : 0;
        Sspi.SecBuffer* inBuffers = stackalloc Sspi.SecBuffer[3];
        inBuffers[0] = new Sspi.SecBuffer(Sspi.SECBUFFER_TOKEN, input, length);
        inBuffers[1] = new Sspi.SecBuffer(Sspi.SECBUFFER_EMPTY, null, 0);
        int inCount = 2;
        if (!_hasContext && _context.AlpnLength > 0)
            inBuffers[inCount++] = new Sspi.SecBuffer(Sspi.SECBUFFER_APPLICATION_PROTOCOLS, _context.Alpn, _context.AlpnLength);
        var inDesc = new Sspi.SecBufferDesc(inBuffers, inCount);
        Sspi.SecBuffer* outBuffers = stackalloc Sspi.SecBuffer[2];
        outBuffers[0] = new Sspi.SecBuffer(Sspi.SECBUFFER_TOKEN, null, 0);
        outBuffers[1] = new Sspi.SecBuffer(Sspi.SECBUFFER_ALERT, null, 0);
        var outDesc = new Sspi.SecBufferDesc(outBuffers, 2);
        uint attributes;
        Sspi.SecHandle* existing = _hasContext ? _handle : null;
        int status;
        if (_context.IsServer)
        {
            uint flags = Sspi.ASC_REQ_REPLAY_DETECT | Sspi.ASC_REQ_SEQUENCE_DETECT | Sspi.ASC_REQ_CONFIDENTIALITY
                | Sspi.ASC_REQ_ALLOCATE_MEMORY | Sspi.ASC_REQ_STREAM | Sspi.ASC_REQ_EXTENDED_ERROR
                | (RequiresClientCertificate ? Sspi.ASC_REQ_MUTUAL_AUTH : 0);
            status = Sspi.AcceptSecurityContext(_context.Credential, existing, &inDesc, flags, 0, _handle, &outDesc, &attributes, null);
        }
        else
        {
            // After SEC_I_INCOMPLETE_CREDENTIALS, USE_SUPPLIED_CREDS says: go on with what
            // the credential has (no certificate), as OpenSSL does; the server decides.
            uint flags = Sspi.ISC_REQ_REPLAY_DETECT | Sspi.ISC_REQ_SEQUENCE_DETECT | Sspi.ISC_REQ_CONFIDENTIALITY
                | Sspi.ISC_REQ_ALLOCATE_MEMORY | Sspi.ISC_REQ_STREAM | Sspi.ISC_REQ_EXTENDED_ERROR
                | Sspi.ISC_REQ_MANUAL_CRED_VALIDATION | (_credentialsRetried ? Sspi.ISC_REQ_USE_SUPPLIED_CREDS : 0);
            status = Sspi.InitializeSecurityContext(_context.Credential, existing, _target, flags, 0, 0, &inDesc, 0, _handle, &outDesc, &attributes, null);
        }
        if (_handle->IsSet)
            _hasContext = true;
        for (int i = 0; i < 2; i++)
        {
            if (outBuffers[i].pvBuffer == null)
                continue;
            if (outBuffers[i].cbBuffer > 0 && !Queue(new ReadOnlySpan<byte>(outBuffers[i].pvBuffer, (int)outBuffers[i].cbBuffer)))
                status = Sspi.SEC_E_INTERNAL_ERROR;
            Sspi.FreeContextBuffer(outBuffers[i].pvBuffer);
        }
        if (status is Sspi.SEC_E_INCOMPLETE_MESSAGE or Sspi.SEC_I_INCOMPLETE_CREDENTIALS)
            return status; // nothing was used
        int extra = inBuffers[1].BufferType == Sspi.SECBUFFER_EXTRA ? (int)inBuffers[1].cbBuffer : 0;
        if (withInput)
            Consume(_inLength - extra);
        return status;
    }

    private bool RequiresClientCertificate => _context.IsServer && _context.Options.Verify && _context.Trust != null;

    /// <summary>The handshake is done: the record sizes, then the peer's certificate checked
    /// (a client's server, or a server's client when it asks for one).</summary>
    private TlsStatus Establish()
    {
        Sspi.SecPkgContext_StreamSizes sizes;
        int status = Sspi.QueryContextAttributes(_handle, Sspi.SECPKG_ATTR_STREAM_SIZES, &sizes);
        if (status != Sspi.SEC_E_OK)
            return Fail(status);
        _sizes = sizes;
        TlsRefusal? refusal = null;
        if (!_context.IsServer && _context.Options.Verify)
        {
            X509Certificate2? peer = PeerCertificate(out X509Certificate2Collection? sent);
            refusal = peer == null
                ? new TlsRefusal("certificate not trusted (the server sent no certificate)", Sspi.TLS1_ALERT_HANDSHAKE_FAILURE)
                : TlsCertificates.Verify(peer, sent, _context.Trust, _serverName, serverCertificate: true);
            Dispose(sent);
        }
        else if (RequiresClientCertificate)
        {
            X509Certificate2? peer = PeerCertificate(out X509Certificate2Collection? sent);
            refusal = peer == null
                ? new TlsRefusal("client certificate missing", Version == "TLSv1.3" ? Sspi.TLS1_ALERT_CERTIFICATE_REQUIRED : Sspi.TLS1_ALERT_HANDSHAKE_FAILURE)
                : TlsCertificates.Verify(peer, sent, _context.Trust, null, serverCertificate: false);
            Dispose(sent);
        }
        if (refusal != null)
        {
            Failure = refusal.Value.Cause;
            SendAlert(refusal.Value.Alert);
            return TlsStatus.Failed;
        }
        _established = true;
        if (_inLength == 0)
            Free(ref _in, ref _inCapacity, ref _inStart);
        return TlsStatus.Done;
    }

    /// <summary>
    /// Tells the peer why we end the session, as OpenSSL does. Schannel has already made (and the
    /// connection sends) this side's last handshake message when our check of the peer's
    /// certificate runs, so the alert follows it, under the session's keys, as .NET's SslStream
    /// does on Windows: the peer hears the refusal on its first read. Nothing is sent where
    /// Schannel cannot make an alert (Wine).
    /// </summary>
    private void SendAlert(int alert)
    {
        Sspi.SCHANNEL_ALERT_TOKEN token = new() { dwTokenType = Sspi.SCHANNEL_ALERT, dwAlertType = Sspi.TLS1_ALERT_FATAL, dwAlertNumber = (uint)alert };
        var buffer = new Sspi.SecBuffer(Sspi.SECBUFFER_TOKEN, &token, sizeof(Sspi.SCHANNEL_ALERT_TOKEN));
        var desc = new Sspi.SecBufferDesc(&buffer, 1);
        if (Sspi.ApplyControlToken(_handle, &desc) == Sspi.SEC_E_OK)
            Step(withInput: false);
    }

    /// <summary>
    /// Decrypts into <paramref name="into"/>: <see cref="TlsStatus.Done"/> with
    /// <paramref name="count"/> bytes (call again: more may be buffered), <see cref="TlsStatus.NeedMore"/>,
    /// <see cref="TlsStatus.Closed"/> after the peer's close_notify, or <see cref="TlsStatus.Failed"/>.
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
        while (true)
        {
            if (_plainLength > 0)
            {
                count = Math.Min(into.Length, _plainLength);
                new ReadOnlySpan<byte>(_plain, count).CopyTo(into);
                _plain += count;
                _plainLength -= count;
                return TlsStatus.Done;
            }
            if (_postHandshake)
            {
                if (_inLength == 0)
                    return NeedMore();
                int step = Step(withInput: true);
                if (step == Sspi.SEC_E_INCOMPLETE_MESSAGE)
                    return NeedMore();
                if (step is not (Sspi.SEC_E_OK or Sspi.SEC_I_CONTINUE_NEEDED))
                    return Fail(step);
                _postHandshake = step == Sspi.SEC_I_CONTINUE_NEEDED;
                continue;
            }
            if (_inLength < RecordHeader)
                return NeedMore();
            int status = Decrypt();
            switch (status)
            {
                case Sspi.SEC_E_OK:
                    continue;
                case Sspi.SEC_I_RENEGOTIATE:
                    // TLS 1.3 sends tickets and key updates after the handshake; Schannel hands
                    // them back to be given to the handshake call. In TLS 1.2 the same status
                    // is a renegotiation, which is refused, as on Linux: it would let a peer
                    // make this side redo handshakes, and change certificates unchecked.
                    if (Version != "TLSv1.3")
                    {
                        Failure = "protocol error (renegotiation refused)";
                        return TlsStatus.Failed;
                    }
                    _postHandshake = true;
                    continue;
                case Sspi.SEC_I_CONTEXT_EXPIRED:
                    _peerClosed = true;
                    return TlsStatus.Closed;
                case Sspi.SEC_E_INCOMPLETE_MESSAGE:
                    return NeedMore();
                default:
                    return Fail(status);
            }
        }
    }

    /// <summary>One DecryptMessage on the unread input, in place: the plaintext it finds becomes
    /// the plaintext to take, what follows the record the unread input.</summary>
    private int Decrypt()
    {
        Sspi.SecBuffer* buffers = stackalloc Sspi.SecBuffer[4];
        buffers[0] = new Sspi.SecBuffer(Sspi.SECBUFFER_DATA, _in + _inStart, _inLength);
        for (int i = 1; i < 4; i++)
            buffers[i] = new Sspi.SecBuffer(Sspi.SECBUFFER_EMPTY, null, 0);
        var desc = new Sspi.SecBufferDesc(buffers, 4);
        int status = Sspi.DecryptMessage(_handle, &desc, 0, null);
        if (status is not (Sspi.SEC_E_OK or Sspi.SEC_I_RENEGOTIATE or Sspi.SEC_I_CONTEXT_EXPIRED))
            return status;
        byte* data = null;
        int dataLength = 0;
        byte* extra = null;
        int extraLength = 0;
        for (int i = 0; i < 4; i++)
        {
            if (buffers[i].BufferType == Sspi.SECBUFFER_DATA && data == null)
            {
                data = (byte*)buffers[i].pvBuffer;
                dataLength = (int)buffers[i].cbBuffer;
            }
            else if (buffers[i].BufferType == Sspi.SECBUFFER_EXTRA && extra == null)
            {
                extra = (byte*)buffers[i].pvBuffer;
                extraLength = (int)buffers[i].cbBuffer;
            }
        }
        if (status == Sspi.SEC_E_OK && dataLength > 0)
        {
            _plain = data;
            _plainLength = dataLength;
        }
        if (extra != null && extraLength > 0)
        {
            _inStart = (int)(extra - _in);
            _inLength = extraLength;
        }
        else
        {
            _inStart += _inLength;
            _inLength = 0;
        }
        return status;
    }

    /// <summary>
    /// Encrypts all of <paramref name="plaintext"/> into pending ciphertext (records of
    /// Schannel's largest message at most): <see cref="TlsStatus.Done"/> or <see cref="TlsStatus.Failed"/>.
    /// </summary>
    public TlsStatus WritePlaintext(ReadOnlySpan<byte> plaintext)
    {
        ThrowIfDisposed();
        if (Failure != null)
            return TlsStatus.Failed;
        if (!_established)
            throw new InvalidOperationException("TLS: writing before the handshake is done");
        int header = (int)_sizes.cbHeader;
        int trailer = (int)_sizes.cbTrailer;
        int largest = (int)Math.Max(1, _sizes.cbMaximumMessage);
        Sspi.SecBuffer* buffers = stackalloc Sspi.SecBuffer[4];
        while (!plaintext.IsEmpty)
        {
            int n = Math.Min(plaintext.Length, largest);
            if (!MakeRoomOut(header + n + trailer))
            {
                Failure = "out of memory";
                return TlsStatus.Failed;
            }
            byte* at = _out + _outStart + _outLength;
            plaintext[..n].CopyTo(new Span<byte>(at + header, n));
            buffers[0] = new Sspi.SecBuffer(Sspi.SECBUFFER_STREAM_HEADER, at, header);
            buffers[1] = new Sspi.SecBuffer(Sspi.SECBUFFER_DATA, at + header, n);
            buffers[2] = new Sspi.SecBuffer(Sspi.SECBUFFER_STREAM_TRAILER, at + header + n, trailer);
            buffers[3] = new Sspi.SecBuffer(Sspi.SECBUFFER_EMPTY, null, 0);
            var desc = new Sspi.SecBufferDesc(buffers, 4);
            int status = Sspi.EncryptMessage(_handle, 0, &desc, 0);
            if (status != Sspi.SEC_E_OK)
                return Fail(status);
            _outLength += (int)(buffers[0].cbBuffer + buffers[1].cbBuffer + buffers[2].cbBuffer);
            plaintext = plaintext[n..];
        }
        return TlsStatus.Done;
    }

    /// <summary>
    /// Queues close_notify (once) as pending ciphertext; false when there is none to send (the
    /// handshake is not done, the session failed, it was already sent, or this Schannel cannot
    /// make one: Wine's has no ApplyControlToken).
    /// </summary>
    public bool Shutdown()
    {
        if (_handle == null || _shutdownSent || !_established || Failure != null)
            return false;
        _shutdownSent = true;
        uint token = Sspi.SCHANNEL_SHUTDOWN;
        var buffer = new Sspi.SecBuffer(Sspi.SECBUFFER_TOKEN, &token, sizeof(uint));
        var desc = new Sspi.SecBufferDesc(&buffer, 1);
        if (Sspi.ApplyControlToken(_handle, &desc) != Sspi.SEC_E_OK)
            return false;
        int status = Step(withInput: false);
        return status is Sspi.SEC_E_OK or Sspi.SEC_I_CONTEXT_EXPIRED && _outLength > 0;
    }

    /// <summary>The negotiated version ("TLSv1.3", "TLSv1.2"); null before the handshake.</summary>
    public string? Version
    {
        get
        {
            if (_version == null && _established && _handle != null)
            {
                Sspi.SecPkgContext_ConnectionInfo info;
                if (Sspi.QueryContextAttributes(_handle, Sspi.SECPKG_ATTR_CONNECTION_INFO, &info) == Sspi.SEC_E_OK)
                {
                    _version = (info.dwProtocol & Sspi.SP_PROT_TLS1_3) != 0 ? "TLSv1.3"
                        : (info.dwProtocol & Sspi.SP_PROT_TLS1_2) != 0 ? "TLSv1.2"
                        : $"unknown (0x{info.dwProtocol:X})";
                }
            }
            return _version;
        }
    }

    /// <summary>The protocol ALPN chose, or null.</summary>
    public string? Alpn
    {
        get
        {
            if (!_alpnRead && _established && _handle != null)
            {
                Sspi.SecPkgContext_ApplicationProtocol protocol;
                if (Sspi.QueryContextAttributes(_handle, Sspi.SECPKG_ATTR_APPLICATION_PROTOCOL, &protocol) == Sspi.SEC_E_OK
                    && protocol.ProtoNegoStatus == Sspi.SecApplicationProtocolNegotiationStatus_Success
                    && protocol.ProtocolIdSize > 0)
                {
                    _alpn = Encoding.UTF8.GetString(protocol.ProtocolId, protocol.ProtocolIdSize);
                }
                _alpnRead = true;
            }
            return _alpn;
        }
    }

    /// <summary>The subject of the peer's certificate as OpenSSL writes it ("/CN=localhost"),
    /// or null when the peer sent none.</summary>
    public string? PeerSubject
    {
        get
        {
            if (!_peerSubjectRead && _established && _handle != null)
            {
                X509Certificate2? peer = PeerCertificate(out X509Certificate2Collection? sent);
                Dispose(sent);
                if (peer != null)
                    _peerSubject = TlsCertificates.OneLineSubject(peer.SubjectName);
                _peerSubjectRead = true;
            }
            return _peerSubject;
        }
    }

    /// <summary>The peer's certificate (kept for the session) and the others it sent.</summary>
    private X509Certificate2? PeerCertificate(out X509Certificate2Collection? sent)
    {
        sent = null;
        nint context = 0;
        if (Sspi.QueryContextAttributes(_handle, Sspi.SECPKG_ATTR_REMOTE_CERT_CONTEXT, &context) != Sspi.SEC_E_OK || context == 0)
            return _peer;
        try
        {
            _peer ??= new X509Certificate2(context);
            // CERT_CONTEXT's hCertStore (after the encoding type, the bytes, their length and
            // the info): the store Schannel made of what the peer sent, intermediates included.
            nint store = *(nint*)((byte*)context + 32);
            if (store != 0)
            {
                using var certificates = new X509Store(store);
                sent = certificates.Certificates;
            }
        }
        finally
        {
            Sspi.CertFreeCertificateContext(context);
        }
        return _peer;
    }

    private static void Dispose(X509Certificate2Collection? certificates)
    {
        if (certificates == null)
            return;
        foreach (X509Certificate2 certificate in certificates)
            certificate.Dispose();
    }

    private TlsStatus Fail(int status)
    {
        Failure ??= TlsFailure.Describe(status);
        return TlsStatus.Failed;
    }

    /// <summary>Nothing more can be decrypted yet: the buffers that are empty are given back,
    /// so an idle connection holds none.</summary>
    private TlsStatus NeedMore()
    {
        if (_inLength == 0 && _plainLength == 0)
            Free(ref _in, ref _inCapacity, ref _inStart);
        if (_outLength == 0)
            Free(ref _out, ref _outCapacity, ref _outStart);
        return TlsStatus.NeedMore;
    }

    private void Consume(int used)
    {
        _inStart += used;
        _inLength -= used;
        if (_inLength == 0 && _plainLength == 0)
            _inStart = 0;
    }

    /// <summary>Room for <paramref name="length"/> more bytes after the unread input: the unread
    /// part moves to the front when no plaintext is waiting in front of it, else the buffer grows
    /// (and the waiting plaintext moves with it).</summary>
    private bool MakeRoomIn(int length)
    {
        if (_plainLength == 0 && _inStart > 0)
        {
            Buffer.MemoryCopy(_in + _inStart, _in, _inCapacity, _inLength);
            _inStart = 0;
        }
        int needed = _inStart + _inLength + length;
        if (needed <= _inCapacity)
            return true;
        long plainOffset = _plainLength > 0 ? _plain - _in : 0;
        int capacity = needed + Slack;
        byte* grown = (byte*)NativeMemory.Realloc(_in, (nuint)capacity);
        if (grown == null)
            return false;
        _in = grown;
        _inCapacity = capacity;
        if (_plainLength > 0)
            _plain = _in + plainOffset;
        return true;
    }

    private bool MakeRoomOut(int length)
    {
        if (_outStart > 0)
        {
            Buffer.MemoryCopy(_out + _outStart, _out, _outCapacity, _outLength);
            _outStart = 0;
        }
        int needed = _outLength + length;
        if (needed <= _outCapacity)
            return true;
        int capacity = needed + Slack;
        byte* grown = (byte*)NativeMemory.Realloc(_out, (nuint)capacity);
        if (grown == null)
            return false;
        _out = grown;
        _outCapacity = capacity;
        return true;
    }

    /// <summary>Handshake output to the pending ciphertext.</summary>
    private bool Queue(ReadOnlySpan<byte> bytes)
    {
        if (!MakeRoomOut(bytes.Length))
            return false;
        bytes.CopyTo(new Span<byte>(_out + _outLength, bytes.Length));
        _outLength += bytes.Length;
        return true;
    }

    private static void Free(ref byte* buffer, ref int capacity, ref int start)
    {
        if (buffer != null)
            NativeMemory.Free(buffer);
        buffer = null;
        capacity = 0;
        start = 0;
    }

    private void ThrowIfDisposed()
    {
        if (_handle == null)
            throw new ObjectDisposedException(nameof(TlsSession));
    }

    /// <summary>Frees the Schannel context, the buffers and the session's hold on its context.
    /// Idempotent.</summary>
    public void Dispose()
    {
        if (_handle == null)
            return;
        if (_hasContext)
            Sspi.DeleteSecurityContext(_handle);
        NativeMemory.Free(_handle);
        _handle = null;
        if (_target != null)
            NativeMemory.Free(_target);
        _target = null;
        Free(ref _in, ref _inCapacity, ref _inStart);
        Free(ref _out, ref _outCapacity, ref _outStart);
        _inLength = _outLength = _plainLength = 0;
        _peer?.Dispose();
        _peer = null;
        _context.Release();
    }
}
