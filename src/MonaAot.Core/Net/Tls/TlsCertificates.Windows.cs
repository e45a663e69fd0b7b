using System;
using System.IO;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using MonaAot.Interop;

namespace MonaAot.Net.Tls;

/// <summary>
/// The certificate work of the Windows engine, done with .NET's X509 types (which sit on the
/// platform's CryptoAPI): PEM files made into a certificate Schannel can sign with, and the
/// peer's certificate checked as OpenSSL checks it on Linux (trust in the system's store or in
/// the <c>ca</c> file, validity, name), with the same causes in the same words (TlsFailure.Unix.cs).
/// Schannel's own check is off (manual validation) because it cannot be given a <c>ca</c> file.
/// Runs at context creation and once per handshake, never per record.
/// </summary>
internal static class TlsCertificates
{
    /// <summary>
    /// The certificate and its key from PEM files, the key held where Schannel can use it: a
    /// key read from PEM lives only in this process (an "ephemeral" key), which Schannel refuses,
    /// so the pair goes through PKCS#12 once, as .NET's SslStream advises. Null with the cause in
    /// <paramref name="error"/>, named as on Linux.
    /// </summary>
    public static X509Certificate2? LoadIdentity(string certificateFile, string keyFile, out string? error)
    {
        error = null;
        string certificateText, keyText;
        try
        {
            certificateText = File.ReadAllText(certificateFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"cannot use the certificate {certificateFile}: {e.Message}";
            return null;
        }
        try
        {
            keyText = File.ReadAllText(keyFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"cannot use the key {keyFile}: {e.Message}";
            return null;
        }
        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPem(certificateText);
        }
        catch (CryptographicException e)
        {
            error = $"cannot use the certificate {certificateFile}: {e.Message}";
            return null;
        }
        using (certificate)
        {
            X509Certificate2? paired;
            try
            {
                paired = Pair(certificate, keyText);
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                error = $"cannot use the key {keyFile}: {e.Message}";
                return null;
            }
            if (paired == null)
            {
                error = $"cannot use the key {keyFile}: key values mismatch";
                return null;
            }
            using (paired)
            {
                try
                {
                    return X509CertificateLoader.LoadPkcs12(paired.Export(X509ContentType.Pkcs12), null);
                }
                catch (CryptographicException e)
                {
                    error = $"cannot use the key {keyFile}: {e.Message}";
                    return null;
                }
            }
        }
    }

    /// <summary>The certificate joined with the key of the PEM text, or null when the key is not
    /// the certificate's; throws when the text holds no key this platform can read.</summary>
    private static X509Certificate2? Pair(X509Certificate2 certificate, string keyText)
    {
        using RSA? rsaPublic = certificate.GetRSAPublicKey();
        if (rsaPublic != null)
        {
            using RSA rsa = RSA.Create();
            rsa.ImportFromPem(keyText);
            return SameKey(rsaPublic.ExportSubjectPublicKeyInfo(), rsa.ExportSubjectPublicKeyInfo()) ? certificate.CopyWithPrivateKey(rsa) : null;
        }
        using ECDsa? ecPublic = certificate.GetECDsaPublicKey();
        if (ecPublic != null)
        {
            using ECDsa ec = ECDsa.Create();
            ec.ImportFromPem(keyText);
            return SameKey(ecPublic.ExportSubjectPublicKeyInfo(), ec.ExportSubjectPublicKeyInfo()) ? certificate.CopyWithPrivateKey(ec) : null;
        }
        throw new CryptographicException("the certificate's key type is not supported (RSA or ECDSA)");
    }

    private static bool SameKey(byte[] a, byte[] b) => a.AsSpan().SequenceEqual(b);

    /// <summary>The certificates of a PEM file (the <c>ca</c> option); null with the cause.</summary>
    public static X509Certificate2Collection? LoadTrust(string caFile, out string? error)
    {
        error = null;
        var collection = new X509Certificate2Collection();
        try
        {
            collection.ImportFromPemFile(caFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            error = $"cannot use the CA file {caFile}: {e.Message}";
            return null;
        }
        if (collection.Count == 0)
        {
            error = $"cannot use the CA file {caFile}: no certificate in it";
            return null;
        }
        return collection;
    }

    /// <summary>
    /// Checks the peer's certificate as OpenSSL does, in its order: a chain to the
    /// <paramref name="trust"/> certificates (or, without them, to the system's store) for the
    /// purpose (server or client authentication, when the certificate names purposes), then
    /// (when <paramref name="expectedName"/> is given) the host name or address, then the dates.
    /// Null when it holds, else the cause as SPEC 10 names it and the alert that tells the peer.
    /// <paramref name="sent"/> are the other certificates the peer sent (intermediates).
    /// </summary>
    public static TlsRefusal? Verify(X509Certificate2 peer, X509Certificate2Collection? sent, X509Certificate2Collection? trust,
        string? expectedName, bool serverCertificate)
    {
        using var chain = new X509Chain();
        X509ChainPolicy policy = chain.ChainPolicy;
        policy.RevocationMode = X509RevocationMode.NoCheck; // as OpenSSL's default: no CRL or OCSP
        policy.ApplicationPolicy.Add(new Oid(serverCertificate ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2"));
        if (sent != null)
            policy.ExtraStore.AddRange(sent);
        if (trust != null)
        {
            policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            policy.CustomTrustStore.AddRange(trust);
        }
        bool built = chain.Build(peer);
        try
        {
            // The statuses decide, not Build's answer alone: under Wine, Build says true for a
            // chain that ends at an unknown issuer (PartialChain). Revocation is not checked.
            X509ChainStatusFlags flags = X509ChainStatusFlags.NoError;
            foreach (X509ChainStatus status in chain.ChainStatus)
                flags |= status.Status;
            flags &= ~(X509ChainStatusFlags.RevocationStatusUnknown | X509ChainStatusFlags.OfflineRevocation);
            if ((flags & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0 || (!built && flags == 0))
                return new TlsRefusal(Untrusted(peer, chain), Sspi.TLS1_ALERT_UNKNOWN_CA);
            if (expectedName != null && !peer.MatchesHostname(expectedName))
                return new TlsRefusal($"name mismatch (the certificate is not for {expectedName})", Sspi.TLS1_ALERT_BAD_CERTIFICATE);
            if ((flags & X509ChainStatusFlags.NotTimeValid) != 0)
                return new TlsRefusal(peer.NotBefore > DateTime.Now ? "certificate not yet valid" : "certificate expired", Sspi.TLS1_ALERT_CERTIFICATE_EXPIRED);
            if ((flags & X509ChainStatusFlags.NotValidForUsage) != 0)
                return new TlsRefusal("certificate refused (unsupported certificate purpose)", Sspi.TLS1_ALERT_UNSUPPORTED_CERT);
            if (flags != X509ChainStatusFlags.NoError)
                return new TlsRefusal($"certificate refused ({First(chain) ?? flags.ToString()})", Sspi.TLS1_ALERT_BAD_CERTIFICATE);
            return null;
        }
        finally
        {
            foreach (X509ChainElement element in chain.ChainElements)
            {
                if (!ReferenceEquals(element.Certificate, peer))
                    element.Certificate.Dispose();
            }
        }
    }

    /// <summary>OpenSSL's words for an unknown issuer.</summary>
    private static string Untrusted(X509Certificate2 peer, X509Chain chain)
    {
        if (IsSelfSigned(peer))
            return "certificate not trusted (self-signed certificate)";
        int count = chain.ChainElements.Count;
        if (count > 1 && IsSelfSigned(chain.ChainElements[count - 1].Certificate))
            return "certificate not trusted (self-signed certificate in certificate chain)";
        return "certificate not trusted (unable to get local issuer certificate)";
    }

    private static string? First(X509Chain chain)
    {
        foreach (X509ChainStatus status in chain.ChainStatus)
            return status.StatusInformation.Trim();
        return null;
    }

    private static bool IsSelfSigned(X509Certificate2 certificate) => certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData);

    /// <summary>A subject as OpenSSL writes it on one line ("/O=MonaAot renewed/CN=localhost"),
    /// so scripts read the same <c>peerCertificate</c> on both platforms.</summary>
    public static string OneLineSubject(X500DistinguishedName name)
    {
        var text = new StringBuilder();
        foreach (X500RelativeDistinguishedName part in name.EnumerateRelativeDistinguishedNames(reversed: false))
        {
            if (part.HasMultipleElements)
                continue; // a multi-valued part (rare in practice) is left out
            string oid = part.GetSingleElementType().Value ?? "";
            text.Append('/').Append(ShortName(oid)).Append('=').Append(part.GetSingleElementValue());
        }
        return text.ToString();
    }

    private static string ShortName(string oid) => oid switch
    {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.5" => "serialNumber",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "0.9.2342.19200300.100.1.25" => "DC",
        _ => oid,
    };
}

/// <summary>Why this side refuses the peer's certificate, and the TLS alert that says so.</summary>
internal readonly record struct TlsRefusal(string Cause, int Alert);
