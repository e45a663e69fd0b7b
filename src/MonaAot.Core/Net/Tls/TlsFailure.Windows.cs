using System.ComponentModel;
using MonaAot.Interop;

namespace MonaAot.Net.Tls;

/// <summary>
/// The text of a failed Schannel call, naming the cause as SPEC 10 lists them and as
/// TlsFailure.Unix.cs words them for OpenSSL. The checks of the peer's certificate are ours
/// (TlsCertificates), so Schannel's own statuses are mostly protocol errors.
/// </summary>
internal static class TlsFailure
{
    public static string Describe(int status) => status switch
    {
        Sspi.SEC_E_CERT_EXPIRED => "certificate expired",
        Sspi.SEC_E_UNTRUSTED_ROOT or Sspi.SEC_E_CERT_UNKNOWN => $"certificate not trusted ({Text(status)})",
        Sspi.SEC_E_WRONG_PRINCIPAL => "name mismatch",
        Sspi.SEC_E_INCOMPLETE_CREDENTIALS or Sspi.SEC_I_INCOMPLETE_CREDENTIALS => "client certificate missing",
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
