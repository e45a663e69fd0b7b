using System;

namespace MonaAot.Mail;

/// <summary>How the connection to the SMTP server is secured ([smtp] tls).</summary>
public enum SmtpTls
{
    /// <summary>STARTTLS when the server offers it, plain otherwise (the default).</summary>
    Auto,
    /// <summary>STARTTLS required: a server that does not offer it fails the mail.</summary>
    StartTls,
    /// <summary>TLS from the first byte (SMTPS, usually port 465).</summary>
    Ssl,
    /// <summary>Never TLS.</summary>
    None,
}

/// <summary>The [smtp] section: where mail goes and how long each step may take.</summary>
/// <param name="Timeout">Bounds the connect and each exchange with the server; also how long an
/// idle connection is kept for the next mail.</param>
/// <param name="User">SMTP AUTH user name; null to send without authenticating.</param>
public sealed record SmtpSettings(string Host, int Port, TimeSpan Timeout, string? User, string? Password, SmtpTls Tls)
{
    public static SmtpSettings Default { get; } = new("localhost", 25, TimeSpan.FromSeconds(60), null, null, SmtpTls.Auto);

    /// <summary>"auto", "starttls", "ssl" or "none" (any case).</summary>
    public static bool TryParseTls(string text, out SmtpTls tls)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "auto": tls = SmtpTls.Auto; return true;
            case "starttls": tls = SmtpTls.StartTls; return true;
            case "ssl": tls = SmtpTls.Ssl; return true;
            case "none": tls = SmtpTls.None; return true;
            default: tls = SmtpTls.Auto; return false;
        }
    }
}
