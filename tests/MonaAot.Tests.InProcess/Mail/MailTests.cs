using System;
using System.Linq;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;
using MimeKit;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Mail;

/// <summary>Mail (docs/api.md, "Mail") in-process: mona:sendMail on the real loop and Lua, against
/// the in-process SMTP server (<see cref="TestSmtpServer"/>) for what a server can do
/// wrong.</summary>
public class MailTests
{
    // Sends one mail per call and logs its outcome as "sent <tag> <error or nil>".
    private const string Sender = """
        function send(tag, to, ...)
          local mail = mona:sendMail("MonaAot <mona@example.com>", "subject " .. tag, "body " .. tag, to, ...)
          function mail:onSent(err) NOTE("sent ", tag, " ", tostring(err)) end
          return mail
        end
        """;

    private static async Task<string> Outcome(TcpApp app, string tag) => (await app.Log.WaitFor($"sent {tag} "))[$"sent {tag} ".Length..];

    [Test]
    public async Task ThreeMails_InARow_ShareOneSession()
    {
        await using TestSmtpServer smtp = await TestSmtpServer.Start();
        await using TcpApp app = await TcpApp.Start(Sender + "\n" + """
            send("1", "a@example.com")
            send("2", "b@example.com", "c@example.org")
            send("3", "d@example.com")
            """, smtp.Ini(timeoutSeconds: 30));

        await Assert.That(await Outcome(app, "1")).IsEqualTo("nil");
        await Assert.That(await Outcome(app, "2")).IsEqualTo("nil");
        await Assert.That(await Outcome(app, "3")).IsEqualTo("nil");
        MimeMessage[] messages = smtp.Messages.ToArray();
        await Assert.That(messages.Select(m => m.Subject ?? "")).IsEquivalentTo(new[] { "subject 1", "subject 2", "subject 3" });
        await Assert.That(messages[1].To.Mailboxes.Select(m => m.Address)).IsEquivalentTo(new[] { "b@example.com", "c@example.org" });
        await Assert.That(messages[0].From.Mailboxes.Single().Address).IsEqualTo("mona@example.com");
        await Assert.That((messages[0].TextBody ?? "").TrimEnd()).IsEqualTo("body 1");
        await Assert.That(smtp.Sessions).IsEqualTo(1);
    }

    [Test]
    public async Task IdleSession_ClosedAfterTheTimeout_NextMailOpensANewOne()
    {
        await using TestSmtpServer smtp = await TestSmtpServer.Start();
        await using TcpApp app = await TcpApp.Start(Sender + "\n" + """send("first", "a@example.com")""", smtp.Ini(timeoutSeconds: 1));
        await Assert.That(await Outcome(app, "first")).IsEqualTo("nil");

        // The client quits after 1 s without a mail.
        await smtp.SessionEnded.Task.WaitAsync(TimeSpan.FromSeconds(20));
        await app.Run("""send("second", "a@example.com")""");

        await Assert.That(await Outcome(app, "second")).IsEqualTo("nil");
        await Assert.That(smtp.Sessions).IsEqualTo(2);
    }

    [Test]
    public async Task SessionDroppedByTheServerWhileKept_NextMailOpensANewOne()
    {
        // The server drops sessions idle for 0.5 s; MonaAot would keep one for 30 s.
        await using TestSmtpServer smtp = await TestSmtpServer.Start(idleLimit: TimeSpan.FromMilliseconds(500));
        await using TcpApp app = await TcpApp.Start(Sender + "\n" + """send("first", "a@example.com")""", smtp.Ini(timeoutSeconds: 30));
        await Assert.That(await Outcome(app, "first")).IsEqualTo("nil");

        await smtp.SessionEnded.Task.WaitAsync(TimeSpan.FromSeconds(20));
        await app.Run("""send("second", "a@example.com")""");

        await Assert.That(await Outcome(app, "second")).IsEqualTo("nil");
        await Assert.That(smtp.Sessions).IsEqualTo(2);
    }

    [Test]
    public async Task NonAsciiSubjectAndBody_ArriveIntact_WithDateAndMessageId()
    {
        const string subject = "Grüße, привет, 日本語 ✓";
        const string body = "Zürich — Ελληνικά — 😀\nsecond line";
        await using TestSmtpServer smtp = await TestSmtpServer.Start();
        await using TcpApp app = await TcpApp.Start($$"""
            local mail = mona:sendMail("mona@example.com", "{{subject}}", "{{body.Replace("\n", "\\n")}}", "x@example.com")
            function mail:onSent(err) NOTE("sent u ", tostring(err)) end
            """, smtp.Ini());

        await Assert.That(await Outcome(app, "u")).IsEqualTo("nil");
        MimeMessage message = smtp.Messages.Single();
        await Assert.That(message.Subject).IsEqualTo(subject);
        // MimeKit gives the text with the platform's line ends (CRLF on Windows).
        await Assert.That((message.TextBody ?? "").ReplaceLineEndings("\n").TrimEnd()).IsEqualTo(body);
        await Assert.That(((TextPart)message.Body!).ContentType.Charset).IsEqualTo("utf-8");
        await Assert.That(message.Headers.Contains(HeaderId.Date)).IsTrue();
        await Assert.That(message.MessageId).EndsWith("@example.com");
    }

    [Test]
    public async Task OnSent_FiresLaterThanTheCall_SoAHandlerSetAfterwardsRuns()
    {
        // Nothing listens on the port: the mail fails at once, and still reports on a later turn.
        // The port is held (bound, not listening) for the whole test: a port released at once
        // can be taken by another test's listener, which accepts and never greets.
        using System.Net.Sockets.Socket probe = TcpApp.RefusingPort(out int closedPort);
        await using TcpApp app = await TcpApp.Start($$"""
            local mail = mona:sendMail("mona@example.com", "s", "b", "x@example.com")
            NOTE("returned ", tostring(mail))
            function mail:onSent(err) NOTE("sent late ", err) end
            """, $"[smtp]\nhost=127.0.0.1\nport={closedPort}\ntls=none\ntimeout=5");

        string error = await Outcome(app, "late");

        await Assert.That(error).Contains($"cannot connect to 127.0.0.1:{closedPort}");
        await Assert.That(app.Log.Messages.IndexOf("returned Mail to x@example.com (pending)"))
            .IsLessThan(app.Log.Messages.FindIndex(m => m.StartsWith("sent late")));
        await Assert.That(app.Log.Messages.Count(m => m.StartsWith("sent late"))).IsEqualTo(1);
    }

    [Test]
    public async Task DroppedMail_StaysAliveUntilOnSent()
    {
        await using TestSmtpServer smtp = await TestSmtpServer.Start();
        await using TcpApp app = await TcpApp.Start(Sender + "\n" + """
            do send("kept", "a@example.com") end
            collectgarbage() collectgarbage()
            """, smtp.Ini());

        await Assert.That(await Outcome(app, "kept")).IsEqualTo("nil");
    }

    [Test]
    [Arguments("reject", "recipient reject@example.com refused by 127.0.0.1:")]
    [Arguments("drop", "The SMTP server has unexpectedly disconnected")]
    public async Task FailedMail_FailsThatMailOnly(string fault, string expected)
    {
        // reject@: the recipient is refused; drop@: the server closes the connection in the
        // middle of the data, with no reply.
        await using TestSmtpServer smtp = await TestSmtpServer.Start();
        await using TcpApp app = await TcpApp.Start(Sender + "\n" + $$"""
            send("bad", "{{fault}}@example.com")
            send("good", "a@example.com")
            """, smtp.Ini());

        await Assert.That(await Outcome(app, "bad")).Contains(expected);
        await Assert.That(await Outcome(app, "good")).IsEqualTo("nil");
        await Assert.That(smtp.Messages.Single().Subject).IsEqualTo("subject good");
    }

    [Test]
    public async Task ServerStallingPastTheTimeout_FailsThatMail_NextOneUsesANewSession()
    {
        await using TestSmtpServer smtp = await TestSmtpServer.Start();
        await using TcpApp app = await TcpApp.Start(Sender + "\n" + """
            send("stalled", "stall@example.com")
            send("after", "a@example.com")
            """, smtp.Ini(timeoutSeconds: 1));

        await Assert.That(await Outcome(app, "stalled")).Contains("did not answer within 1 s");
        await Assert.That(await Outcome(app, "after")).IsEqualTo("nil");
        await Assert.That(smtp.Sessions).IsEqualTo(2);
    }

    [Test]
    public async Task StalledServer_DoesNotDelaySocketsOrTimers()
    {
        await using TestSmtpServer smtp = await TestSmtpServer.Start();
        await using TcpApp app = await TcpApp.Start(Sender + "\n" + """
            local server = mona:createTCPServer()
            function server:onConnection(client)
              function client:onReception(data) self:send(data) end
            end
            server:start("127.0.0.1", 0)
            NOTE("echo ", server.port)
            ticks = 0
            function onManage() ticks = ticks + 1 NOTE("tick ", ticks) end
            send("stalled", "stall@example.com")
            """, smtp.Ini(timeoutSeconds: 60));
        using Socket client = await TcpApp.Connect(await app.Log.WaitForNumber("echo "));
        // onManage on a loop timer, as the host's 2-second tick does, but every 50 ms.
        await app.Harness.OnLoop(() => app.Harness.Loop.Schedule(50, 50, app.Harness.Host.Manage));

        // While the SMTP exchange hangs, echo round trips and onManage ticks go on.
        for (int i = 0; i < 50; i++)
        {
            byte[] message = Encoding.ASCII.GetBytes($"ping {i:D3}");
            await client.SendAsync(message, SocketFlags.None);
            await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(client, message.Length))).IsEqualTo($"ping {i:D3}");
        }
        await app.Log.WaitFor("tick 20");

        await Assert.That(app.Log.MessagesStartingWith("sent stalled")).IsEmpty();
        smtp.Unstall.Cancel();
        await Assert.That(await Outcome(app, "stalled")).IsNotEqualTo("nil");
    }

    [Test]
    public async Task AuthenticationRequired_GivenInTheIni()
    {
        await using TestSmtpServer smtp = await TestSmtpServer.Start(user: "mona", password: "s3cret");
        await using TcpApp app = await TcpApp.Start(Sender + "\n" + """send("auth", "a@example.com")""",
            smtp.Ini(extra: "user=mona\npassword=s3cret\n"));

        await Assert.That(await Outcome(app, "auth")).IsEqualTo("nil");
        await Assert.That(smtp.Messages.Single().Subject).IsEqualTo("subject auth");
    }

    [Test]
    [Arguments("", "127.0.0.1 requires authentication")]
    [Arguments("user=mona\npassword=wrong\n", "authentication failed at 127.0.0.1:")]
    public async Task AuthenticationRequired_MissingOrWrong_FailsWithTheReason(string credentials, string expected)
    {
        await using TestSmtpServer smtp = await TestSmtpServer.Start(user: "mona", password: "s3cret");
        await using TcpApp app = await TcpApp.Start(Sender + "\n" + """send("noauth", "a@example.com")""", smtp.Ini(extra: credentials));

        await Assert.That(await Outcome(app, "noauth")).Contains(expected);
        await Assert.That(smtp.Messages).IsEmpty();
    }

    [Test]
    [Arguments("starttls", "does not support the STARTTLS extension")]
    [Arguments("ssl", "TLS handshake with 127.0.0.1:")]
    public async Task TlsRequired_ByAPlainServer_FailsWithTheReason(string tls, string expected)
    {
        // The test server speaks plain SMTP only: "starttls" must refuse to go on without it,
        // and "ssl" must attempt a handshake from the first byte.
        await using TestSmtpServer smtp = await TestSmtpServer.Start();
        await using TcpApp app = await TcpApp.Start(Sender + "\n" + """send("tls", "a@example.com")""",
            smtp.Ini().Replace("tls=none", $"tls={tls}"));

        await Assert.That(await Outcome(app, "tls")).Contains(expected);
        await Assert.That(smtp.Messages).IsEmpty();
    }

    [Test]
    public async Task TlsAuto_WithAPlainServer_SendsInPlain()
    {
        await using TestSmtpServer smtp = await TestSmtpServer.Start();
        await using TcpApp app = await TcpApp.Start(Sender + "\n" + """send("auto", "a@example.com")""",
            smtp.Ini().Replace("tls=none", "tls=auto"));

        await Assert.That(await Outcome(app, "auto")).IsEqualTo("nil");
    }

    [Test]
    [Arguments("mona:sendMail({}, 's', 'b', 'x@example.com')", "bad argument #1 to 'sendMail' (string expected, got table)")]
    [Arguments("mona:sendMail('a@example.com', nil, 'b', 'x@example.com')", "bad argument #2 to 'sendMail' (string expected, got nil)")]
    [Arguments("mona:sendMail('a@example.com', 's', true, 'x@example.com')", "bad argument #3 to 'sendMail' (string expected, got boolean)")]
    [Arguments("mona:sendMail('a@example.com', 's', 'b')", "bad argument #4 to 'sendMail' (string expected, got no value)")]
    [Arguments("mona:sendMail('a@example.com', 's', 'b', 'x@example.com', 42)", "bad argument #5 to 'sendMail' (malformed address '42'")]
    [Arguments("mona:sendMail('not an address', 's', 'b', 'x@example.com')", "bad argument #1 to 'sendMail' (malformed address 'not an address')")]
    [Arguments("mona:sendMail('a@example.com', 's', 'b', 'x@example.com, y@example.com')", "bad argument #4 to 'sendMail' (malformed address")]
    [Arguments("mona.sendMail('a@example.com', 's', 'b', 'x@example.com')", "bad argument #1 to 'sendMail' (table expected, got string)")]
    public async Task BadArguments_RaiseAtTheCall(string call, string expected)
    {
        await using TcpApp app = await TcpApp.Start($$"""
            local ok, err = pcall(function() return {{call}} end)
            NOTE("raised ", tostring(not ok), " ", err)
            """);

        string result = await app.Log.WaitFor("raised ");

        await Assert.That(result).StartsWith("raised true ");
        await Assert.That(result).Contains(expected);
    }
}
