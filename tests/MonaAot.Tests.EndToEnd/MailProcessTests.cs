using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using MimeKit;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.EndToEnd;

/// <summary>Mail through the published out/monaaot: delivered by a real OpenSMTPD (started by
/// ./build.sh test, tests/smtp/opensmtpd.sh) into a Maildir, and cut short by a shutdown.</summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class MailProcessTests
{
    private static (int Port, string Maildir) OpenSmtpd()
    {
        string? port = Environment.GetEnvironmentVariable("MONAAOT_SMTPD_PORT");
        string? maildir = Environment.GetEnvironmentVariable("MONAAOT_SMTPD_MAILDIR");
        if (port is null || maildir is null)
            throw new InvalidOperationException("OpenSMTPD is not running (MONAAOT_SMTPD_PORT/MONAAOT_SMTPD_MAILDIR unset): run the tests with ./build.sh test, as root");
        return (int.Parse(port), maildir);
    }

    /// <summary>The delivered files whose Subject carries <paramref name="token"/>, once there
    /// are <paramref name="count"/> of them (delivery to the Maildir follows the SMTP reply).</summary>
    private static async Task<List<MimeMessage>> Delivered(string maildir, string token, int count, CancellationToken cancel)
    {
        string folder = Path.Combine(maildir, "new");
        while (true)
        {
            var found = new List<MimeMessage>();
            foreach (string file in Directory.GetFiles(folder))
            {
                MimeMessage message = await MimeMessage.LoadAsync(file, cancel);
                if (message.Subject?.Contains(token) == true)
                    found.Add(message);
            }
            if (found.Count >= count)
                return found;
            await Task.Delay(50, cancel);
        }
    }

    [Test]
    [Timeout(60_000)]
    public async Task OpenSmtpd_DeliversMailsInARow_WithHeadersAndEncodingIntact(CancellationToken cancel)
    {
        (int port, string maildir) = OpenSmtpd();
        string token = Guid.NewGuid().ToString("N")[..12];
        using var www = new TempWww();
        string ini = www.WriteIni($"[smtp]\nhost=127.0.0.1\nport={port}\ntimeout=20\n");
        www.WriteApp("", $$"""
            for i = 1, 3 do
              local mail = mona:sendMail("MonaAot Tests <mona@example.com>", "{{token}} Grüße #" .. i .. " — привет",
                                         "Body " .. i .. ": Zürich, 日本語, 😀\nline two", "user1@example.com", "user2@example.org")
              function mail:onSent(err) NOTE("sent ", i, " ", tostring(err)) end
            end
            """);
        await using MonaProcess mona = MonaProcess.Start("--config", ini, www.Www);

        for (int i = 1; i <= 3; i++)
            await Assert.That(await mona.WaitForLineText($"sent {i} ", TcpProcessTests.Wait)).EndsWith($"sent {i} nil");
        List<MimeMessage> delivered = await Delivered(maildir, token, 6, cancel); // a copy per recipient

        await Assert.That(delivered.Count).IsEqualTo(6);
        foreach (MimeMessage message in delivered)
        {
            int i = int.Parse(message.Subject!.Split('#')[1][..1]);
            await Assert.That(message.Subject).IsEqualTo($"{token} Grüße #{i} — привет");
            await Assert.That(message.From.Mailboxes.Single().ToString()).IsEqualTo("\"MonaAot Tests\" <mona@example.com>");
            await Assert.That(message.To.Mailboxes.Select(m => m.Address)).IsEquivalentTo(new[] { "user1@example.com", "user2@example.org" });
            await Assert.That((message.TextBody ?? "").TrimEnd()).IsEqualTo($"Body {i}: Zürich, 日本語, 😀\nline two");
            await Assert.That(((TextPart)message.Body!).ContentType.Charset).IsEqualTo("utf-8");
            await Assert.That(message.Headers.Contains(HeaderId.Date)).IsTrue();
            await Assert.That(message.MessageId).EndsWith("@example.com");
        }
        await Assert.That(delivered.Select(m => m.MessageId).Distinct().Count()).IsEqualTo(3);
    }

    [Test]
    [Timeout(60_000)]
    public async Task Shutdown_WithAMailStillPending_GivesOnSentAnError_AndExits0(CancellationToken cancel)
    {
        await using TestSmtpServer smtp = await TestSmtpServer.Start();
        using var www = new TempWww();
        string ini = www.WriteIni(smtp.Ini(timeoutSeconds: 60));
        www.WriteApp("", """
            local mail = mona:sendMail("mona@example.com", "s", "b", "stall@example.com")
            function mail:onSent(err) NOTE("sent ", tostring(err)) end
            function onStop() NOTE("onStop") end
            NOTE("queued")
            """);
        await using MonaProcess mona = MonaProcess.Start("--config", ini, www.Www);
        await mona.WaitForLine("queued", TcpProcessTests.Wait);
        await smtp.SessionStarted.Task.WaitAsync(cancel); // the mail is in the exchange, which stalls

        mona.Signal(MonaProcess.SIGTERM);

        await Assert.That(await mona.WaitForExit(TcpProcessTests.Wait)).IsEqualTo(0);
        int stop = await mona.WaitForLine("onStop", TimeSpan.FromSeconds(1));
        string sent = await mona.WaitForLineText("sent ", TimeSpan.FromSeconds(1));
        await Assert.That(sent).Contains("sent mail not sent: the server stopped");
        await Assert.That(mona.Lines.FindIndex(l => l.Contains("sent mail not sent"))).IsGreaterThan(stop);
    }
}
