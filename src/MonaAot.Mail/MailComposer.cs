using System;
using System.Collections.Generic;
using System.Text;
using MimeKit;
using MimeKit.Utils;
using MonaAot.Net;

namespace MonaAot.Mail;

/// <summary>
/// Builds the message mona:sendMail sends (docs/api.md, "Mail"): text/plain in UTF-8, the sender in
/// From, every recipient in To, a Date and a Message-Id. Non-ASCII subjects are encoded by MimeKit
/// (RFC 2047) and the body gets the transfer encoding the server's extensions allow.
/// </summary>
public static class MailComposer
{
    public static MimeMessage Compose(MailboxAddress sender, string subject, string content, IReadOnlyList<MailboxAddress> recipients)
    {
        var message = new MimeMessage();
        message.From.Add(sender);
        foreach (MailboxAddress recipient in recipients)
            message.To.Add(recipient);
        message.Subject = subject;
        message.Date = DateTimeOffset.Now;
        // With the sender's domain: the parameterless overload asks the system for its own
        // domain name, which can mean a DNS query.
        message.MessageId = MimeUtils.GenerateMessageId(sender.Domain);
        var body = new TextPart(MimeKit.Text.TextFormat.Plain);
        body.SetText(Encoding.UTF8, content);
        message.Body = body;
        return message;
    }

    /// <summary>One mailbox, "user@example.com" or "Name &lt;user@example.com&gt;": a local part,
    /// '@' and a domain. Lists, groups and bare names are refused with the reason.</summary>
    public static bool TryParseAddress(string text, out MailboxAddress address, out string error)
    {
        address = null!;
        if (!MailboxAddress.TryParse(ParserOptions.Default, text, out MailboxAddress? parsed) || parsed is null)
        {
            error = $"malformed address {AddressText.Quote(text)}";
            return false;
        }
        if (parsed.LocalPart.Length == 0 || parsed.Domain.Length == 0)
        {
            error = $"malformed address {AddressText.Quote(text)} (user@domain expected)";
            return false;
        }
        address = parsed;
        error = "";
        return true;
    }
}
