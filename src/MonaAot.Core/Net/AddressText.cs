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

    /// <summary>
    /// Null when <paramref name="host"/> can be a name to resolve, else the message: labels of
    /// letters, digits, '-' and '_' (1 to 63 characters, 253 in all, a final dot allowed), the
    /// last one not all digits. So a mistyped numeric address such as "999.1.1.1" fails at once
    /// instead of going to DNS: a top-level label is never numeric (RFC 3696, section 2), and
    /// resolvers read such text as an IPv4 address, not a name.
    /// </summary>
    public static string? CheckHostName(string host)
    {
        string name = host.EndsWith('.') ? host[..^1] : host;
        bool valid = name.Length is > 0 and <= 253;
        int labelStart = 0;
        bool allDigits = true;
        for (int i = 0; valid && i <= name.Length; i++)
        {
            if (i == name.Length || name[i] == '.')
            {
                valid = i - labelStart is > 0 and <= 63;
                if (i == name.Length)
                    valid &= !allDigits;
                labelStart = i + 1;
                allDigits = true;
                continue;
            }
            char c = name[i];
            valid = char.IsAsciiLetterOrDigit(c) || c is '-' or '_';
            allDigits &= char.IsAsciiDigit(c);
        }
        return valid ? null : $"invalid address {Quote(host)} (neither an IP address nor a host name)";
    }

    public static string? CheckPort(long port) =>
        port is >= 0 and <= 65535 ? null : $"invalid port {port} (0 to 65535)";
}
