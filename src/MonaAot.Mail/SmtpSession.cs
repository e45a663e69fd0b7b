using System;
using System.Threading;
using System.Threading.Tasks;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace MonaAot.Mail;

/// <summary>One connection to the SMTP server, opened as [smtp] says (TLS mode, AUTH).</summary>
internal sealed class SmtpSession : IDisposable
{
    private readonly SmtpClient _client = new();

    public async Task OpenAsync(SmtpSettings settings, CancellationToken cancel)
    {
        // MailKit applies this to the connect and to every read and write after it.
        _client.Timeout = (int)Math.Min(int.MaxValue, settings.Timeout.TotalMilliseconds);
        // The name the client gives in EHLO: a fixed one, since finding the machine's own
        // domain name could mean a DNS query.
        _client.LocalDomain = "localhost";
        await _client.ConnectAsync(settings.Host, settings.Port, SecureOptions(settings.Tls), cancel).ConfigureAwait(false);
        if (settings.User is not null)
            await _client.AuthenticateAsync(settings.User, settings.Password ?? "", cancel).ConfigureAwait(false);
    }

    public Task SendAsync(MimeMessage message, CancellationToken cancel) => _client.SendAsync(message, cancel);

    /// <summary>NOOP on a kept session: false when the server is gone or does not answer.</summary>
    public async Task<bool> IsAliveAsync(CancellationToken cancel)
    {
        if (!_client.IsConnected)
            return false;
        try
        {
            await _client.NoOpAsync(cancel).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception)
        {
            return false;
        }
    }

    public Task QuitAsync() => _client.DisconnectAsync(quit: true);

    public void Dispose() => _client.Dispose();

    private static SecureSocketOptions SecureOptions(SmtpTls tls) => tls switch
    {
        SmtpTls.StartTls => SecureSocketOptions.StartTls,
        SmtpTls.Ssl => SecureSocketOptions.SslOnConnect,
        SmtpTls.None => SecureSocketOptions.None,
        _ => SecureSocketOptions.StartTlsWhenAvailable,
    };
}
