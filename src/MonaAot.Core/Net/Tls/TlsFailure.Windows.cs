using System.ComponentModel;
using MonaAot.Interop;

namespace MonaAot.Net.Tls;

/// <summary>
/// The text of a failed Schannel call, naming the cause as SPEC 10 lists them and as
/// TlsFailure.Unix.cs words them for OpenSSL.
/// </summary>
internal static class TlsFailure
{
    /// <summary>
    /// A failed Schannel call. This side's own checks of the peer's certificate are ours
    /// (TlsCertificates), made after Schannel's calls, so a certificate status from Schannel is
    /// the peer's alert: the peer refused this side (worded as OpenSSL words a received alert;
    /// in TLS 1.3 a server's refusal of a client certificate comes with the first read).
    /// </summary>
    public static string Describe(int status) => status switch
    {
        Sspi.SEC_E_CERT_EXPIRED or Sspi.SEC_E_UNTRUSTED_ROOT or Sspi.SEC_E_CERT_UNKNOWN or Sspi.SEC_E_WRONG_PRINCIPAL
            or Sspi.SEC_E_INCOMPLETE_CREDENTIALS or Sspi.SEC_I_INCOMPLETE_CREDENTIALS
            => $"refused by the peer ({Text(status)})",
        Sspi.SEC_E_UNSUPPORTED_FUNCTION => $"not supported by this system's Schannel ({Text(status)})",
        _ => $"protocol error ({Text(status)})",
    };

    /// <summary>The system's message for a status, with its code.</summary>
    public static string Text(int status)
    {
        string message = new Win32Exception(status).Message.TrimEnd('.', ' ', '\r', '\n');
        return $"{message}, 0x{status:X8}";
    }
}
