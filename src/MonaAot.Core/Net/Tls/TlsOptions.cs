using System.Collections.Generic;

namespace MonaAot.Net.Tls;

/// <summary>The highest TLS version a context offers; none below 1.2 is ever offered.</summary>
public enum TlsProtocol
{
    Tls13,
    Tls12,
}

/// <summary>
/// What one TLS context is made of (SPEC 10's options, paths already resolved): the side, the
/// certificate and key, the trust, the ALPN list. Independent of the engine, so the Windows one
/// can take the same. The server name of a client is per connection and goes to
/// <c>TlsSession.CreateClient</c>.
/// </summary>
public sealed class TlsOptions
{
    /// <summary>True for the accepting side.</summary>
    public bool IsServer { get; init; }

    /// <summary>Client: check the server's certificate (trust and name). Server, with
    /// <see cref="CaFile"/>: ask for a client certificate and refuse a connection without one
    /// that file trusts.</summary>
    public bool Verify { get; init; } = true;

    /// <summary>PEM file of trusted certificates; null: the system's trust store (client) or
    /// none (server).</summary>
    public string? CaFile { get; init; }

    /// <summary>PEM certificate chain (the server's, or the client's own for mutual TLS).</summary>
    public string? CertificateFile { get; init; }

    /// <summary>PEM private key of <see cref="CertificateFile"/>.</summary>
    public string? KeyFile { get; init; }

    /// <summary>ALPN protocol names, in preference order; null or empty: no ALPN.</summary>
    public IReadOnlyList<string>? Alpn { get; init; }

    /// <summary>The highest version offered (tests pin TLS 1.2 with it).</summary>
    public TlsProtocol MaxProtocol { get; init; } = TlsProtocol.Tls13;
}
