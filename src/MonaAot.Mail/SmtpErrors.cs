using System;
using System.IO;
using System.Net.Sockets;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;

namespace MonaAot.Mail;

/// <summary>The one-line reason a mail failed, as onSent(error) gives it to the script.</summary>
internal static class SmtpErrors
{
    public static string Describe(Exception e, SmtpSettings settings)
    {
        string server = $"{settings.Host}:{settings.Port}";
        return e switch
        {
            SmtpCommandException command => command.ErrorCode switch
            {
                SmtpErrorCode.RecipientNotAccepted => $"recipient {command.Mailbox} refused by {server}: {Reply(command)}",
                SmtpErrorCode.SenderNotAccepted => $"sender {command.Mailbox} refused by {server}: {Reply(command)}",
                _ => $"message refused by {server}: {Reply(command)}",
            },
            ServiceNotAuthenticatedException => $"{settings.Host} requires authentication: set [smtp] user and password",
            AuthenticationException auth => $"authentication failed at {server}: {auth.Message}",
            SslHandshakeException => $"TLS handshake with {server} failed",
            SmtpProtocolException protocol => $"SMTP protocol error with {server}: {protocol.Message}",
            ServiceNotConnectedException => $"connection to {server} lost",
            SocketException socket => $"cannot connect to {server}: {socket.Message}",
            OperationCanceledException or TimeoutException => $"{server} did not answer within {settings.Timeout.TotalSeconds:0} s",
            IOException io when io.InnerException is TimeoutException or OperationCanceledException
                => $"{server} did not answer within {settings.Timeout.TotalSeconds:0} s",
            IOException io => $"connection to {server} lost: {io.Message}",
            NotSupportedException unsupported => $"{server}: {unsupported.Message}",
            _ => $"mail to {server} failed: {e.Message}",
        };
    }

    private static string Reply(SmtpCommandException e) => $"{(int)e.StatusCode} {e.Message.Trim()}";
}
