using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading;
using MonaAot.Interop;

namespace MonaAot.Net.Tls;

/// <summary>
/// One Schannel credential made from <see cref="TlsOptions"/> (the Windows counterpart of
/// TlsContext.Unix.cs, same members): the side, TLS 1.2 as the lowest version, the certificate
/// and its key (checked against each other here, so a bad pair fails at creation), the trust
/// for the peer's certificate (checked by TlsCertificates, not by Schannel) and the ALPN list.
/// Sessions hold a reference, so disposing a context (a certificate renewed on disk) never pulls
/// the credential from under a handshake in progress.
/// </summary>
public sealed unsafe class TlsContext : IDisposable
{
    // SCH_CREDENTIALS, which can offer TLS 1.3, exists from Windows 10 1809; .NET's SslStream
    // takes it from the build it was made reliable in. Older systems get SCHANNEL_CRED (TLS 1.2).
    private static readonly bool OffersTls13 = Environment.OSVersion.Version.Major >= 10 && Environment.OSVersion.Version.Build >= 18836;

    private Sspi.SecHandle* _credential; // native memory: SSPI keeps no pointer to it, but sessions pass it on every call
    private X509Certificate2? _identity;
    private byte* _alpn;   // SEC_APPLICATION_PROTOCOLS with one ALPN list, for the first handshake call
    private int _alpnLength;
    private int _references = 1;
    private int _disposed;

    private TlsContext(TlsOptions options) => Options = options;

    public TlsOptions Options { get; }

    public bool IsServer => Options.IsServer;

    /// <summary>The <c>ca</c> file's certificates; null: the system's store.</summary>
    internal X509Certificate2Collection? Trust { get; private set; }

    internal Sspi.SecHandle* Credential => _credential != null ? _credential : throw new ObjectDisposedException(nameof(TlsContext));

    /// <summary>SEC_APPLICATION_PROTOCOLS for the first handshake call (native memory, so
    /// SSPI may read it where it is); length 0 without ALPN.</summary>
    internal byte* Alpn => _alpn;

    internal int AlpnLength => _alpnLength;

    /// <summary>Makes a context; null with a one-line <paramref name="error"/> when a file cannot
    /// be used or Schannel refuses the credential.</summary>
    public static TlsContext? Create(TlsOptions options, out string? error)
    {
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
        var context = new TlsContext(options);
        error = context.Configure(options);
        if (error == null)
            return context;
        context.Dispose();
        return null;
    }

    private string? Configure(TlsOptions options)
    {
        string? error;
        if (options.CertificateFile != null)
        {
            _identity = TlsCertificates.LoadIdentity(options.CertificateFile, options.KeyFile!, out error);
            if (_identity == null)
                return error;
        }
        if (options.CaFile != null)
        {
            Trust = TlsCertificates.LoadTrust(options.CaFile, out error);
            if (Trust == null)
                return error;
        }
        if (options.Alpn is { Count: > 0 } alpn && (error = EncodeAlpn(alpn)) != null)
            return error;
        return AcquireCredential(options);
    }

    private string? AcquireCredential(TlsOptions options)
    {
        nint certificate = _identity?.Handle ?? 0;
        uint use = options.IsServer ? Sspi.SECPKG_CRED_INBOUND : Sspi.SECPKG_CRED_OUTBOUND;
        // A client checks the server itself (TlsCertificates.Verify, with the ca option) and
        // sends only the certificate it was given; a server maps no client to a Windows account.
        uint flags = Sspi.SCH_USE_STRONG_CRYPTO | (options.IsServer
            ? Sspi.SCH_CRED_NO_SYSTEM_MAPPER
            : Sspi.SCH_CRED_MANUAL_CRED_VALIDATION | Sspi.SCH_CRED_NO_DEFAULT_CREDS);
        int status;
        _credential = (Sspi.SecHandle*)NativeMemory.AllocZeroed((nuint)sizeof(Sspi.SecHandle));
        Sspi.SecHandle* handle = _credential;
        if (OffersTls13)
        {
            uint enabled = Sspi.SP_PROT_TLS1_2 | (options.MaxProtocol == TlsProtocol.Tls13 ? Sspi.SP_PROT_TLS1_3 : 0);
            var parameters = new Sspi.TLS_PARAMETERS { grbitDisabledProtocols = ~enabled };
            var credential = new Sspi.SCH_CREDENTIALS
            {
                dwVersion = Sspi.SCH_CREDENTIALS_VERSION,
                dwFlags = flags,
                cTlsParameters = 1,
                pTlsParameters = &parameters,
            };
            if (certificate != 0)
            {
                credential.cCreds = 1;
                credential.paCred = &certificate;
            }
            status = Sspi.AcquireCredentialsHandle(null, Sspi.PackageName, use, 0, &credential, 0, 0, handle, null);
            if (status == Sspi.SEC_E_OK)
                return null;
        }
        var legacy = new Sspi.SCHANNEL_CRED
        {
            dwVersion = Sspi.SCHANNEL_CRED_VERSION,
            dwFlags = flags,
            grbitEnabledProtocols = options.IsServer ? Sspi.SP_PROT_TLS1_2_SERVER : Sspi.SP_PROT_TLS1_2_CLIENT,
        };
        if (certificate != 0)
        {
            legacy.cCreds = 1;
            legacy.paCred = &certificate;
        }
        status = Sspi.AcquireCredentialsHandle(null, Sspi.PackageName, use, 0, &legacy, 0, 0, handle, null);
        if (status == Sspi.SEC_E_OK)
            return null;
        NativeMemory.Free(_credential);
        _credential = null;
        return $"TLS: Schannel refused the credential: {TlsFailure.Text(status)}";
    }

    /// <summary>SEC_APPLICATION_PROTOCOLS with the names in ALPN's wire format.</summary>
    private string? EncodeAlpn(IReadOnlyList<string> names)
    {
        int length = 0;
        foreach (string name in names)
        {
            int bytes = Encoding.UTF8.GetByteCount(name);
            if (bytes is 0 or > 255)
                return $"ALPN protocol name '{name}' must have 1 to 255 bytes";
            length += 1 + bytes;
        }
        _alpnLength = Sspi.ApplicationProtocolsHeader + length;
        _alpn = (byte*)NativeMemory.AllocZeroed((nuint)_alpnLength);
        *(uint*)_alpn = (uint)(_alpnLength - sizeof(uint));                     // ProtocolListsSize
        *(int*)(_alpn + 4) = Sspi.SecApplicationProtocolNegotiationExt_ALPN;   // ProtoNegoExt
        *(ushort*)(_alpn + 8) = (ushort)length;                                // ProtocolListSize
        var span = new Span<byte>(_alpn + Sspi.ApplicationProtocolsHeader, length);
        foreach (string name in names)
        {
            int bytes = Encoding.UTF8.GetBytes(name, span[1..]);
            span[0] = (byte)bytes;
            span = span[(1 + bytes)..];
        }
        return null;
    }

    internal void AddReference() => Interlocked.Increment(ref _references);

    internal void Release()
    {
        if (Interlocked.Decrement(ref _references) != 0)
            return;
        if (_credential != null)
        {
            Sspi.FreeCredentialsHandle(_credential);
            NativeMemory.Free(_credential);
        }
        _credential = null;
        _identity?.Dispose(); // deletes the key the PKCS#12 import stored
        _identity = null;
        if (Trust != null)
        {
            foreach (X509Certificate2 certificate in Trust)
                certificate.Dispose();
        }
        Trust = null;
        if (_alpn != null)
            NativeMemory.Free(_alpn);
        _alpn = null;
    }

    /// <summary>Gives up the creator's reference; the credential goes with the last session.
    /// Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            Release();
    }
}
