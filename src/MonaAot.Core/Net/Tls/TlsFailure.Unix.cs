using System;
using MonaAot.Interop;

namespace MonaAot.Net.Tls;

/// <summary>
/// The text of a failed handshake or record, naming the cause as SPEC 10 lists them
/// (certificate not trusted, name mismatch, certificate expired, protocol), from the
/// verification result and OpenSSL's error queue. Made once, when a session fails; the queue is
/// emptied, since it belongs to the thread and the next session must not read this one's.
/// </summary>
internal static unsafe class TlsFailure
{
    private const nuint ErrSystemFlag = 0x80000000; // ERR_SYSTEM_FLAG: the code is an errno

    public static string Describe(nint ssl, int sslError, string? expectedName)
    {
        nuint code = FirstError();
        OpenSsl.ERR_clear_error();
        nint verify = OpenSsl.SSL_get_verify_result(ssl);
        int reason = (code & ErrSystemFlag) != 0 ? -1 : (int)(code & OpenSsl.ERR_REASON_MASK);

        if (reason == OpenSsl.SSL_R_CERTIFICATE_VERIFY_FAILED && verify != OpenSsl.X509_V_OK)
            return DescribeVerify((int)verify, expectedName);
        if (reason == OpenSsl.SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
            return "client certificate missing";
        if (reason >= OpenSsl.SSL_AD_REASON_OFFSET && reason < OpenSsl.SSL_AD_REASON_OFFSET + 256)
            return $"refused by the peer ({ReasonText(code)})";
        if (code == 0)
            return sslError == OpenSsl.SSL_ERROR_SYSCALL ? "protocol error (unexpected end of stream)" : $"protocol error (SSL error {sslError})";
        return $"protocol error ({ReasonText(code)})";
    }

    public static string DescribeVerify(int verify, string? expectedName) => verify switch
    {
        OpenSsl.X509_V_ERR_CERT_HAS_EXPIRED => "certificate expired",
        OpenSsl.X509_V_ERR_CERT_NOT_YET_VALID => "certificate not yet valid",
        OpenSsl.X509_V_ERR_HOSTNAME_MISMATCH or OpenSsl.X509_V_ERR_IP_ADDRESS_MISMATCH => expectedName == null ? "name mismatch" : $"name mismatch (the certificate is not for {expectedName})",
        OpenSsl.X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
            or OpenSsl.X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
            or OpenSsl.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
            or OpenSsl.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
            or OpenSsl.X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
            or OpenSsl.X509_V_ERR_CERT_UNTRUSTED
            or OpenSsl.X509_V_ERR_CERT_REJECTED => $"certificate not trusted ({OpenSsl.Text(OpenSsl.X509_verify_cert_error_string(verify))})",
        _ => $"certificate refused ({OpenSsl.Text(OpenSsl.X509_verify_cert_error_string(verify))})",
    };

    /// <summary>The error queue's first entry as "what: reason", the queue emptied (for
    /// failures outside a session: contexts and files).</summary>
    public static string TakeErrorQueue(string what)
    {
        nuint code = FirstError();
        OpenSsl.ERR_clear_error();
        return code == 0 ? what : $"{what}: {ReasonText(code)}";
    }

    // The earliest entry is the cause; later ones are where it was passed up.
    private static nuint FirstError() => OpenSsl.ERR_get_error();

    private static string ReasonText(nuint code)
    {
        string? reason = OpenSsl.Text(OpenSsl.ERR_reason_error_string(code));
        if (reason != null)
            return reason;
        byte* text = stackalloc byte[256];
        OpenSsl.ERR_error_string_n(code, text, 256);
        return OpenSsl.Text(text) ?? "unknown error";
    }
}
