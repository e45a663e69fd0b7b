using System;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Tasks;
using MonaAot.Metrics;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Metrics;

/// <summary>
/// The series of [metrics] (docs/api.md, "[metrics]") in-process: each error class, the mail
/// counters and the fleet size are printed from the start (0), and move by exactly one when the
/// event they count is provoked once on real loopback sockets: a plain connection at a PROXY
/// server, an error raised in onConnection, a datagram the kernel
/// refuses, a name that does not resolve, a mail accepted and one refused.
/// </summary>
public class MetricsSeriesTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    private static readonly string[] ErrorClasses = ["connection", "tls", "proxy", "script", "udp", "dns"];

    private sealed class FailingResolver : MonaAot.Net.IResolver
    {
        public Task<IPAddress[]> ResolveAsync(string host) => Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound));
    }

    private static string Lua(string path) => "[[" + path + "]]";

    /// <summary>The endpoint on the harness's loop (its listener and lag timer belong to it).</summary>
    private static async Task<MetricsEndpoint> StartEndpoint(HostHarness harness) =>
        await harness.OnLoop(() => MetricsEndpoint.Start(harness.Net, harness.Runtime, harness.Mail, IPAddress.Loopback, 0, out string? error)
            ?? throw new InvalidOperationException(error));

    private static Task<int> StopEndpoint(HostHarness harness, MetricsEndpoint endpoint) =>
        harness.OnLoop(() => { endpoint.Dispose(); return 0; });

    private static async Task<string> Render(HostHarness harness, MetricsEndpoint endpoint) =>
        await harness.OnLoop(() => Encoding.UTF8.GetString(endpoint.Render()));

    /// <summary>The value of the one sample whose name and labels start with <paramref name="series"/>.</summary>
    private static long Sample(string text, string series) =>
        long.Parse(text.Split('\n').Single(l => l.StartsWith(series, StringComparison.Ordinal)).Split(' ')[1]);

    private static string Error(string errorClass) => $"monaaot_errors_total{{worker=\"1\",class=\"{errorClass}\"}}";

    [Test]
    public async Task EveryNewSeries_StartsAtZero_AndCountsItsEventOnce()
    {
        await using TestSmtpServer smtp = await TestSmtpServer.Start();
        using var www = new TempWww();
        www.WriteApp("", """
            proxy = mona:createTCPServer()
            proxy.proxyProtocol = true
            function proxy:onConnection(client) NOTE("proxy client reached the script") end
            assert(proxy:start("127.0.0.1", 0))
            NOTE("proxy ", proxy.port)
            bad = mona:createTCPServer()
            function bad:onConnection(client) error("boom in onConnection") end
            assert(bad:start("127.0.0.1", 0))
            NOTE("bad ", bad.port)
            function provoke()
              NOTE("udp ", tostring(mona:createUDPSocket():send("x", "255.255.255.255:9")))
              local c = mona:createTCPClient()
              function c:onDisconnection() NOTE("dns ", self.error) end
              c:connect("no-such-host.invalid", 80)
              function mail(to)
                local m = mona:sendMail("mona@example.com", "s", "b", to)
                function m:onSent(err) NOTE("mail ", to, " ", tostring(err)) end
              end
              mail("a@example.com")
              mail("reject@example.com")
            end
            """);
        using var harness = new HostHarness(www, smtp.Ini(timeoutSeconds: 10), resolver: new FailingResolver());
        harness.StartLoop();
        await harness.OnLoop(() => { harness.Rescan(); return 0; });
        int proxyPort = await harness.Log.WaitForNumber("proxy ", Bound);
        int badPort = await harness.Log.WaitForNumber("bad ", Bound);
        MetricsEndpoint endpoint = await StartEndpoint(harness);
        try
        {
            string before = await Render(harness, endpoint);
            foreach (string errorClass in ErrorClasses)
                await Assert.That(before).Contains(Error(errorClass) + " ");
            foreach (string errorClass in ErrorClasses.Skip(1))
                await Assert.That(Sample(before, Error(errorClass))).IsEqualTo(0).Because(errorClass);
            await Assert.That(Sample(before, "monaaot_mails_sent_total{")).IsEqualTo(0);
            await Assert.That(Sample(before, "monaaot_mails_failed_total{")).IsEqualTo(0);
            await Assert.That(Sample(before, "monaaot_workers{worker=\"1\"}")).IsEqualTo(1);
            await Assert.That(before.Split('\n').Count(l => l == "# TYPE monaaot_errors_total counter")).IsEqualTo(1);

            // A plain connection at the PROXY server: not a header.
            using (Socket plain = await TcpApp.Connect(proxyPort))
            {
                await plain.SendAsync("hello there\r\n"u8.ToArray(), SocketFlags.None);
                await harness.Log.WaitForEntry(e => e.Message.Contains("PROXY protocol:", StringComparison.Ordinal), "the PROXY refusal", Bound);
            }
            using (Socket client = await TcpApp.Connect(badPort))
                await harness.Log.WaitForEntry(e => e.Message.Contains("boom in onConnection", StringComparison.Ordinal), "the script error", Bound);
            bool provoked = await harness.OnLoop(() =>
            {
                KeraLua.Lua lua = harness.Vm.State;
                lua.RawGetInteger(KeraLua.LuaRegistry.Index, harness.Host.Applications[""].EnvironmentRef);
                lua.GetField(-1, "provoke");
                bool ok = lua.PCall(0, 0, 0) == KeraLua.LuaStatus.OK;
                lua.SetTop(0);
                return ok;
            });
            await Assert.That(provoked).IsTrue();
            string udp = await harness.Log.WaitFor("udp ", Bound);
            await harness.Log.WaitFor("dns ", Bound);
            await harness.Log.WaitFor("mail a@example.com ", Bound);
            string rejected = await harness.Log.WaitFor("mail reject@example.com ", Bound);

            string after = await Render(harness, endpoint);
            await Assert.That(udp).IsNotEqualTo("udp nil").Because("a datagram to the broadcast address without broadcast is refused");
            await Assert.That(rejected).IsNotEqualTo("mail reject@example.com nil");
            await Assert.That(Sample(after, Error("tls"))).IsEqualTo(0).Because(after);
            await Assert.That(Sample(after, Error("proxy"))).IsEqualTo(1).Because(after);
            await Assert.That(Sample(after, Error("script"))).IsEqualTo(1).Because(after);
            await Assert.That(Sample(after, Error("udp"))).IsEqualTo(1).Because(after);
            await Assert.That(Sample(after, Error("dns"))).IsEqualTo(1).Because(after);
            await Assert.That(Sample(after, "monaaot_mails_sent_total{")).IsEqualTo(1);
            await Assert.That(Sample(after, "monaaot_mails_failed_total{")).IsEqualTo(1);
            await Assert.That(harness.Log.Messages.Any(m => m.Contains("reached the script", StringComparison.Ordinal))).IsFalse();
        }
        finally
        {
            await StopEndpoint(harness, endpoint);
        }
    }

    /// <summary>A plain client at a TLS server (not a ClientHello): one tls error, and the
    /// script never hears of it. Not under Wine: no TLS server runs there in-process
    /// (docs/api.md, "TLS").</summary>
    [Test]
    public async Task AFailedTlsHandshake_CountsOnceAsTls()
    {
        Skip.When(Wine.IsRunning, WineTls.NoServer);
        using TestCertificates certs = await TestCertificates.Make();
        await using TcpApp app = await TcpApp.Start($$"""
            tls = mona:createTCPServer({ certificate = {{Lua(certs.ServerCert)}}, key = {{Lua(certs.ServerKey)}} })
            function tls:onConnection(client) NOTE("tls client reached the script") end
            assert(tls:start("127.0.0.1", 0))
            NOTE("tls ", tls.port)
            """);
        int port = await app.Log.WaitForNumber("tls ", Bound);
        MetricsEndpoint endpoint = await StartEndpoint(app.Harness);
        try
        {
            await Assert.That(Sample(await Render(app.Harness, endpoint), Error("tls"))).IsEqualTo(0);
            using (Socket plain = await TcpApp.Connect(port))
            {
                await plain.SendAsync("GET / HTTP/1.0\r\n\r\n"u8.ToArray(), SocketFlags.None);
                await app.Log.WaitForEntry(e => e.Message.Contains("TLS handshake failed", StringComparison.Ordinal), "the TLS failure", Bound);
            }

            await Assert.That(Sample(await Render(app.Harness, endpoint), Error("tls"))).IsEqualTo(1);
            await Assert.That(app.Log.Messages.Any(m => m.Contains("reached the script", StringComparison.Ordinal))).IsFalse();
        }
        finally
        {
            await StopEndpoint(app.Harness, endpoint);
        }
    }

    /// <summary>A balancer's TCP health check (connect, close before any byte) is not a PROXY
    /// error: it would page someone for every check.</summary>
    [Test]
    public async Task AHealthCheck_IsNotAProxyError()
    {
        await using TcpApp app = await TcpApp.Start("""
            proxy = mona:createTCPServer()
            proxy.proxyProtocol = { "127.0.0.1" }
            assert(proxy:start("127.0.0.1", 0))
            NOTE("proxy ", proxy.port)
            """);
        int port = await app.Log.WaitForNumber("proxy ", Bound);
        MetricsEndpoint endpoint = await StartEndpoint(app.Harness);
        try
        {
            using (Socket check = await TcpApp.Connect(port))
                check.Shutdown(SocketShutdown.Send);
            await app.Harness.Log.WaitForEntry(e => e.Message.Contains("closed before any byte", StringComparison.Ordinal), "the check's end", Bound);

            await Assert.That(Sample(await Render(app.Harness, endpoint), Error("proxy"))).IsEqualTo(0);
        }
        finally
        {
            await StopEndpoint(app.Harness, endpoint);
        }
    }
}
