using System;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using MonaAot.Interop;

namespace MonaAot.Net.Tls;

/// <summary>
/// One OpenSSL SSL_CTX made from <see cref="TlsOptions"/>: the side, TLS 1.2 as the lowest
/// version, the certificate and key (checked against each other here, so a bad pair fails at
/// creation, not at the first handshake), the trust and the ALPN list. Sessions are made from
/// it; each holds a reference, so disposing a context (a certificate renewed on disk: make a
/// new one for new connections) never pulls memory from under a handshake in progress.
/// </summary>
public sealed unsafe class TlsContext : IDisposable
{
    // Servers that ask for client certificates must name a session id context, or OpenSSL
    // refuses resumed sessions; any constant does for one process.
    private static ReadOnlySpan<byte> SessionIdContext => "monaaot"u8;

    private nint _ctx;
    private byte* _alpn;   // ALPN list in wire format (length-prefixed names), server side: the select callback reads it
    private int _alpnLength;
    private int _references = 1;
    private int _disposed;

    private TlsContext(nint ctx, TlsOptions options)
    {
        _ctx = ctx;
        Options = options;
    }

    public TlsOptions Options { get; }

    public bool IsServer => Options.IsServer;

    internal nint Handle => _ctx;

    /// <summary>
    /// Makes a context; null with a one-line <paramref name="error"/> when OpenSSL cannot be
    /// loaded or a file cannot be used.
    /// </summary>
    public static TlsContext? Create(TlsOptions options, out string? error)
    {
        if (!OpenSsl.TryLoad(out error))
            return null;
        if (options.IsServer && (options.CertificateFile == null || options.KeyFile == null))
        {
            error = "a TLS server needs a certificate and a key";
            return null;
        }
        if ((options.CertificateFile == null) != (options.KeyFile == null))
        {
            error = "a TLS certificate needs its key (and a key its certificate)";
            return null;
        }
        OpenSsl.ERR_clear_error();
        nint ctx = OpenSsl.SSL_CTX_new(OpenSsl.TLS_method());
        if (ctx == 0)
        {
            error = "TLS: " + TlsFailure.TakeErrorQueue("cannot make a context");
            return null;
        }
        // An encrypted key is refused ("bad decrypt"), never asked for: OpenSSL's default
        // would prompt on the terminal and block the loop.
        OpenSsl.SSL_CTX_set_default_passwd_cb(ctx, &NoPassphrase);
        var context = new TlsContext(ctx, options);
        error = context.Configure(options);
        OpenSsl.ERR_clear_error();
        if (error == null)
            return context;
        context.Dispose();
        return null;
    }

    private string? Configure(TlsOptions options)
    {
        OpenSsl.SSL_CTX_set_min_proto_version(_ctx, OpenSsl.TLS1_2_VERSION);
        if (options.MaxProtocol == TlsProtocol.Tls12)
            OpenSsl.SSL_CTX_set_max_proto_version(_ctx, OpenSsl.TLS1_2_VERSION);
        // An idle connection then holds no record buffers (bounded memory per connection);
        // renegotiation, a TLS 1.2 feature that lets a peer make the server work, is refused.
        OpenSsl.SSL_CTX_set_mode(_ctx, OpenSsl.SSL_MODE_RELEASE_BUFFERS);
        OpenSsl.SSL_CTX_set_options(_ctx, OpenSsl.SSL_OP_NO_RENEGOTIATION);

        if (options.CertificateFile != null)
        {
            fixed (byte* path = CString(options.CertificateFile))
                if (OpenSsl.SSL_CTX_use_certificate_chain_file(_ctx, path) != 1)
                    return TlsFailure.TakeErrorQueue($"cannot use the certificate {options.CertificateFile}");
            fixed (byte* path = CString(options.KeyFile!))
                if (OpenSsl.SSL_CTX_use_PrivateKey_file(_ctx, path, OpenSsl.SSL_FILETYPE_PEM) != 1)
                    return TlsFailure.TakeErrorQueue($"cannot use the key {options.KeyFile}");
            if (OpenSsl.SSL_CTX_check_private_key(_ctx) != 1)
                return TlsFailure.TakeErrorQueue($"the key {options.KeyFile} does not match the certificate {options.CertificateFile}");
        }

        if (options.CaFile != null)
        {
            fixed (byte* path = CString(options.CaFile))
            {
                if (OpenSsl.SSL_CTX_load_verify_locations(_ctx, path, null) != 1)
                    return TlsFailure.TakeErrorQueue($"cannot use the CA file {options.CaFile}");
                // A server names the CAs it accepts in its certificate request.
                if (options.IsServer && options.Verify)
                {
                    nint names = OpenSsl.SSL_load_client_CA_file(path);
                    if (names != 0)
                        OpenSsl.SSL_CTX_set_client_CA_list(_ctx, names); // the context takes it
                }
            }
        }
        else if (!options.IsServer && options.Verify && OpenSsl.SSL_CTX_set_default_verify_paths(_ctx) != 1)
        {
            return TlsFailure.TakeErrorQueue("cannot use the system's trust store");
        }

        int mode = OpenSsl.SSL_VERIFY_NONE;
        if (options.Verify && !options.IsServer)
            mode = OpenSsl.SSL_VERIFY_PEER;
        else if (options.Verify && options.IsServer && options.CaFile != null)
            mode = OpenSsl.SSL_VERIFY_PEER | OpenSsl.SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        OpenSsl.SSL_CTX_set_verify(_ctx, mode, 0);
        if (options.IsServer)
        {
            fixed (byte* id = SessionIdContext)
                OpenSsl.SSL_CTX_set_session_id_context(_ctx, id, (uint)SessionIdContext.Length);
        }

        if (options.Alpn is { Count: > 0 } alpn)
        {
            string? alpnError = EncodeAlpn(alpn);
            if (alpnError != null)
                return alpnError;
            if (options.IsServer)
            {
                OpenSsl.SSL_CTX_set_alpn_select_cb(_ctx, (nint)(delegate* unmanaged<nint, byte**, byte*, byte*, uint, nint, int>)&SelectAlpn, (nint)_alpn);
            }
            else if (OpenSsl.SSL_CTX_set_alpn_protos(_ctx, _alpn + sizeof(int), (uint)_alpnLength) != 0) // 0 is success here
            {
                return TlsFailure.TakeErrorQueue("cannot set the ALPN list");
            }
        }
        return null;
    }

    /// <summary>The list in ALPN's wire format, after an int with its length (what the select
    /// callback gets as its argument).</summary>
    private string? EncodeAlpn(System.Collections.Generic.IReadOnlyList<string> names)
    {
        int length = 0;
        foreach (string name in names)
        {
            int bytes = Encoding.UTF8.GetByteCount(name);
            if (bytes is 0 or > 255)
                return $"ALPN protocol name '{name}' must have 1 to 255 bytes";
            length += 1 + bytes;
        }
        _alpn = (byte*)NativeMemory.Alloc((nuint)(sizeof(int) + length));
        *(int*)_alpn = length;
        _alpnLength = length;
        var span = new Span<byte>(_alpn + sizeof(int), length);
        foreach (string name in names)
        {
            int bytes = Encoding.UTF8.GetBytes(name, span[1..]);
            span[0] = (byte)bytes;
            span = span[(1 + bytes)..];
        }
        return null;
    }

    /// <summary>The server's ALPN choice: its own first preference that the client offers;
    /// none in common means no ALPN (the handshake goes on without it).</summary>
    [UnmanagedCallersOnly]
    private static int SelectAlpn(nint ssl, byte** selected, byte* selectedLength, byte* offered, uint offeredLength, nint argument)
    {
        byte* list = (byte*)argument;
        byte* choice;
        byte choiceLength;
        int outcome = OpenSsl.SSL_select_next_proto(&choice, &choiceLength, list + sizeof(int), (uint)*(int*)list, offered, offeredLength);
        if (outcome != OpenSsl.OPENSSL_NPN_NEGOTIATED)
            return OpenSsl.SSL_TLSEXT_ERR_NOACK;
        *selected = choice;
        *selectedLength = choiceLength;
        return OpenSsl.SSL_TLSEXT_ERR_OK;
    }

    internal void AddReference() => Interlocked.Increment(ref _references);

    internal void Release()
    {
        if (Interlocked.Decrement(ref _references) != 0)
            return;
        if (_ctx != 0)
            OpenSsl.SSL_CTX_free(_ctx);
        _ctx = 0;
        if (_alpn != null)
            NativeMemory.Free(_alpn);
        _alpn = null;
    }

    /// <summary>Gives up the creator's reference; the native context goes with the last session.
    /// Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            Release();
    }

    /// <summary>A path as OpenSSL takes it: UTF-8 with a NUL (made at context creation only).</summary>
    internal static byte[] CString(string text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }

    /// <summary>The passphrase callback: none (0 bytes), so a key that needs one fails to load.</summary>
    [UnmanagedCallersOnly]
    private static int NoPassphrase(byte* buffer, int size, int writing, void* user) => 0;
}
