using System;
using System.Globalization;
using System.Text;

namespace MonaAot.Net;

/// <summary>
/// Splits the address forms scripts write: "host:port", "[v6]:port", or host and port given
/// apart. Only the text is checked here; whether the host resolves is the resolver's business.
/// </summary>
public static class AddressText
{
    /// <summary>Splits "host:port" / "[v6]:port"; returns null or a one-line error.</summary>
    public static string? TrySplit(string text, out string host, out int port)
    {
        host = "";
        port = 0;
        int colon = text.LastIndexOf(':');
        if (colon < 0)
            return $"invalid address {Quote(text)} (expected host:port)";
        string hostPart = text[..colon];
        if (hostPart.StartsWith('['))
        {
            if (!hostPart.EndsWith(']'))
                return $"invalid address {Quote(text)} (expected [ipv6]:port)";
            hostPart = hostPart[1..^1];
        }
        else if (hostPart.Contains(':'))
        {
            return $"invalid address {Quote(text)} (write an IPv6 address as [ipv6]:port)";
        }
        string? error = TryParsePort(text[(colon + 1)..], out port);
        if (error is not null)
            return error;
        host = hostPart;
        return null;
    }

    /// <summary>A port from text: 0-65535.</summary>
    public static string? TryParsePort(string text, out int port)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port))
            return $"invalid port {Quote(text)}";
        return CheckPort(port);
    }

    /// <summary>Script text inside an error message: quoted, control characters escaped and
    /// long text cut, so that the message stays one readable line whatever the script passed.</summary>
    public static string Quote(string text)
    {
        const int Shown = 80;
        var quoted = new StringBuilder(Math.Min(text.Length, Shown) + 8).Append('\'');
        foreach (char c in text.Length > Shown ? text[..Shown] : text)
        {
            if (char.IsControl(c))
                quoted.Append(c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ => $"\\x{(int)c:x2}" });
            else
                quoted.Append(c);
        }
        quoted.Append('\'');
        if (text.Length > Shown)
            quoted.Append($"... ({text.Length} characters)");
        return quoted.ToString();
    }

    public static string? CheckPort(long port) =>
        port is >= 0 and <= 65535 ? null : $"invalid port {port} (0 to 65535)";
}
