using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.EndToEnd;

/// <summary>[metrics] port: GET /metrics from the published binary, checked by Debian's promtool
/// (docs/api.md, "[metrics]").</summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class MetricsProcessTests
{
    private static readonly TimeSpan Wait = TcpProcessTests.Wait;

    private const string Echo = """
        server = mona:createTCPServer()
        function server:onConnection(client)
          function client:onReception(data) self:send(data) end
        end
        assert(server:start("127.0.0.1", 0))
        NOTE("port ", server.port)
        """;

    private static readonly string[] Series =
    [
        "monaaot_connections", "monaaot_accepts_total", "monaaot_errors_total", "monaaot_received_bytes_total",
        "monaaot_sent_bytes_total", "monaaot_open_sockets", "monaaot_ending_connections", "monaaot_timers",
        "monaaot_loop_lag_seconds", "monaaot_loop_lag_max_seconds", "monaaot_lua_memory_bytes", "monaaot_managed_heap_bytes",
        "monaaot_managed_allocated_bytes_total", "monaaot_gc_collections_total", "monaaot_mails_pending",
        "monaaot_mails_sent_total", "monaaot_mails_failed_total", "monaaot_workers",
    ];

    private static readonly string[] ErrorClasses = ["connection", "tls", "proxy", "script", "udp", "dns"];

    private static async Task<(MonaProcess Mona, int MetricsPort, int EchoPort)> StartWithMetrics(TempWww www, IEnumerable<KeyValuePair<string, string?>>? environment = null)
    {
        www.WriteApp("", Echo);
        string ini = www.WriteIni("[metrics]\nport = 0\n");
        MonaProcess mona = MonaProcess.StartBinary(environment, MonaProcess.BinaryPath, "--config", ini, www.Www);
        string line = await mona.WaitForLineText("metrics served at http://127.0.0.1:", Wait);
        int metricsPort = int.Parse(line.Split("127.0.0.1:")[1].Split('/')[0]);
        int echoPort = await TcpProcessTests.PortOf(mona);
        return (mona, metricsPort, echoPort);
    }

    /// <summary>Sends <paramref name="request"/> and reads until the server closes.</summary>
    private static async Task<string> Exchange(int port, string request)
    {
        using Socket socket = await TcpApp.Connect(port);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None);
        return Encoding.UTF8.GetString(await TcpApp.ReadToEnd(socket).WaitAsync(Wait));
    }

    private static string BodyOf(string response) => response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];

    private static long Sample(string body, string name) =>
        long.Parse(body.Split('\n').Single(l => l.StartsWith(name + "{", StringComparison.Ordinal)).Split(' ')[1]);

    private static async Task<(int ExitCode, string Output)> Promtool(string body)
    {
        using var process = Process.Start(new ProcessStartInfo("promtool", ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(body);
        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync().WaitAsync(Wait);
        }
        catch (TimeoutException)
        {
            process.Kill();
            throw;
        }
        return (process.ExitCode, await output + await error);
    }

    [Test]
    public async Task GetMetrics_IsPrometheusTextThatPromtoolAccepts_AndCountersMove()
    {
        using var www = new TempWww();
        (MonaProcess mona, int metricsPort, int echoPort) = await StartWithMetrics(www);
        await using MonaProcess running = mona;

        string first = await Exchange(metricsPort, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
        await Assert.That(first).StartsWith("HTTP/1.1 200 OK\r\n");
        await Assert.That(first).Contains("Content-Type: text/plain; version=0.0.4");
        string body = BodyOf(first);
        await Assert.That(first).Contains($"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n");
        (int code, string lint) = await Promtool(body);
        await Assert.That(code).IsEqualTo(0).Because(lint + "\n" + body);
        await Assert.That(body).Contains("monaaot_connections{worker=\"1\"} ");
        // Every series of docs/api.md's table, every error class from the start (0 when none).
        foreach (string series in Series)
            await Assert.That(body).Contains("\n" + series + "{worker=\"1\"").Because(series);
        foreach (string errorClass in ErrorClasses)
            await Assert.That(body).Contains($"monaaot_errors_total{{worker=\"1\",class=\"{errorClass}\"}} ").Because(errorClass);
        await Assert.That(Sample(body, "monaaot_workers")).IsEqualTo(1);

        using (Socket client = await TcpApp.Connect(echoPort))
        {
            await client.SendAsync(new byte[1000], SocketFlags.None);
            await TcpApp.ReadExactly(client, 1000);
            string during = BodyOf(await Exchange(metricsPort, "GET /metrics?x=1 HTTP/1.0\r\n\r\n"));
            await Assert.That(Sample(during, "monaaot_accepts_total")).IsGreaterThanOrEqualTo(Sample(body, "monaaot_accepts_total") + 2);
            await Assert.That(Sample(during, "monaaot_received_bytes_total")).IsGreaterThanOrEqualTo(Sample(body, "monaaot_received_bytes_total") + 1000);
            await Assert.That(Sample(during, "monaaot_sent_bytes_total")).IsGreaterThanOrEqualTo(Sample(body, "monaaot_sent_bytes_total") + 1000);
            // The echo client and this scrape's own connection.
            await Assert.That(Sample(during, "monaaot_connections")).IsGreaterThanOrEqualTo(2);
        }
    }

    /// <summary>A worker of [server] workers (MONAAOT_WORKER=i/N, set here by hand: no
    /// supervisor) labels every sample with its own number and says the fleet's size; the port
    /// rule (port + number - 1) is MetricsPortTests' (a fixed port here could be taken).</summary>
    [Test]
    public async Task AWorker_LabelsEverySampleWithItsNumber_AndSaysTheFleetSize()
    {
        using var www = new TempWww();
        (MonaProcess mona, int metricsPort, _) = await StartWithMetrics(www, [new("MONAAOT_WORKER", "2/3")]);
        await using MonaProcess running = mona;

        string body = BodyOf(await Exchange(metricsPort, "GET /metrics HTTP/1.1\r\n\r\n"));

        string[] samples = body.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
        await Assert.That(samples.Length).IsGreaterThanOrEqualTo(Series.Length);
        await Assert.That(samples.All(l => l.Contains("{worker=\"2\"", StringComparison.Ordinal))).IsTrue().Because(body);
        await Assert.That(body).Contains("\nmonaaot_workers{worker=\"2\"} 3\n");
        (int code, string lint) = await Promtool(body);
        await Assert.That(code).IsEqualTo(0).Because(lint + "\n" + body);
    }

    /// <summary>Two free ports in a row on 127.0.0.1, found by binding them (then released).</summary>
    private static int TwoFreePorts()
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            using Socket first = TcpApp.Listen(out int port);
            if (port >= 65535)
                continue;
            using var second = new Socket(SocketType.Stream, ProtocolType.Tcp);
            // As the server's listeners do: a port whose only users are connections in TIME_WAIT
            // (plenty after the churn tests) is free for a listener.
            second.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            try
            {
                second.Bind(new IPEndPoint(IPAddress.Loopback, port + 1));
                return port;
            }
            catch (SocketException)
            {
                // taken: another pair
            }
        }
        throw new InvalidOperationException("no two free ports in a row");
    }

    /// <summary>[server] workers = 2 with [metrics] port = P: worker 1 serves at P, worker 2 at
    /// P + 1, each its own samples (docs/api.md, "[metrics]").</summary>
    [Test]
    [Timeout(60_000)]
    public async Task TwoWorkers_ServeAtPortAndPortPlusOne_EachWithItsOwnLabel(CancellationToken cancellation)
    {
        Skip.When(Runner.IsSet, Runner.SkipReason("a worker is the binary executing itself, which runs only natively (no binfmt handler for qemu here)"));
        using var www = new TempWww();
        www.WriteApp("", "NOTE('ran')");
        int port = TwoFreePorts();
        await using MonaProcess mona = MonaProcess.Start("--config", www.WriteIni($"[server]\nworkers = 2\n[metrics]\nport = {port}\n"), www.Www);
        await mona.WaitForLineText($"metrics served at http://127.0.0.1:{port}/metrics", Wait);
        await mona.WaitForLineText($"metrics served at http://127.0.0.1:{port + 1}/metrics", Wait);

        for (int worker = 1; worker <= 2; worker++)
        {
            string body = BodyOf(await Exchange(port + worker - 1, "GET /metrics HTTP/1.1\r\n\r\n"));
            string[] samples = body.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
            await Assert.That(samples.All(l => l.Contains($"{{worker=\"{worker}\"", StringComparison.Ordinal))).IsTrue().Because(body);
            await Assert.That(body).Contains($"\nmonaaot_workers{{worker=\"{worker}\"}} 2\n");
        }
    }

    /// <summary>The endpoint's listener closes with the applications, so a stop with nothing
    /// open does not wait out the 5 s a stopping server gives its closing connections.</summary>
    [Test]
    public async Task Sigterm_WithNothingOpen_DoesNotWaitForTheEndpoint()
    {
        using var www = new TempWww();
        (MonaProcess mona, int metricsPort, _) = await StartWithMetrics(www);
        await using MonaProcess running = mona;
        await Exchange(metricsPort, "GET /metrics HTTP/1.1\r\n\r\n");
        var clock = Stopwatch.StartNew();
        mona.Signal(MonaProcess.SIGTERM);
        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(0);
        await Assert.That(clock.Elapsed).IsLessThan(TimeSpan.FromMilliseconds(MonaAot.Server.ShutdownDrainMs - 1000));
        await Assert.That(mona.Lines.Exists(l => l.Contains("still sending"))).IsFalse();
    }

    [Test]
    public async Task OtherPaths_Are404_OtherMethods405()
    {
        using var www = new TempWww();
        (MonaProcess mona, int metricsPort, _) = await StartWithMetrics(www);
        await using MonaProcess running = mona;

        await Assert.That(await Exchange(metricsPort, "GET / HTTP/1.1\r\n\r\n")).StartsWith("HTTP/1.1 404 Not Found\r\n");
        await Assert.That(await Exchange(metricsPort, "GET /metricsx HTTP/1.1\r\n\r\n")).StartsWith("HTTP/1.1 404 Not Found\r\n");
        await Assert.That(await Exchange(metricsPort, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")).StartsWith("HTTP/1.1 405 Method Not Allowed\r\n");
        await Assert.That(await Exchange(metricsPort, "HEAD /metrics HTTP/1.1\r\n\r\n")).StartsWith("HTTP/1.1 405 Method Not Allowed\r\n");
    }

    [Test]
    public async Task ARequestSplitByteByByte_IsAnswered()
    {
        using var www = new TempWww();
        (MonaProcess mona, int metricsPort, _) = await StartWithMetrics(www);
        await using MonaProcess running = mona;

        using Socket socket = await TcpApp.Connect(metricsPort);
        socket.NoDelay = true;
        foreach (byte b in "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray())
            await socket.SendAsync(new[] { b }, SocketFlags.None);
        string response = Encoding.UTF8.GetString(await TcpApp.ReadToEnd(socket).WaitAsync(Wait));

        await Assert.That(response).StartsWith("HTTP/1.1 200 OK\r\n");
        await Assert.That(response).Contains("# TYPE monaaot_accepts_total counter\n");
    }

    [Test]
    [Arguments("GARBAGE\r\n\r\n")]
    [Arguments("GET metrics HTTP/1.1\r\n\r\n")]
    [Arguments("GET /metrics HTTP/2.0\r\n\r\n")]
    [Arguments("GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n")]
    public async Task MalformedRequests_AreClosedWithoutAnswer(string request)
    {
        using var www = new TempWww();
        (MonaProcess mona, int metricsPort, _) = await StartWithMetrics(www);
        await using MonaProcess running = mona;

        await Assert.That(await Exchange(metricsPort, request)).IsEmpty();
    }

    [Test]
    public async Task AnOversizeRequestHead_IsClosedWithoutAnswer()
    {
        using var www = new TempWww();
        (MonaProcess mona, int metricsPort, _) = await StartWithMetrics(www);
        await using MonaProcess running = mona;

        string request = "GET /metrics HTTP/1.1\r\nX-Padding: " + new string('a', 9000) + "\r\n\r\n";
        using Socket socket = await TcpApp.Connect(metricsPort);
        try
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None);
            byte[] answer = await TcpApp.ReadToEnd(socket).WaitAsync(Wait);
            await Assert.That(answer.Length).IsEqualTo(0);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            // Closed while the rest of the head was still arriving: a reset is a close too.
        }
    }

    /// <summary>A client that sends half a request and waits holds one slot of the endpoint, not
    /// the loop: an echo beside it answers at once, and the slow client is closed after the
    /// request timeout.</summary>
    [Test]
    public async Task ASlowClient_NeverBlocksAnEchoBesideIt_AndIsClosedAfterTheTimeout()
    {
        using var www = new TempWww();
        (MonaProcess mona, int metricsPort, int echoPort) = await StartWithMetrics(www);
        await using MonaProcess running = mona;

        using Socket slow = await TcpApp.Connect(metricsPort);
        await slow.SendAsync("GET /met"u8.ToArray(), SocketFlags.None);
        Task<byte[]> slowEnd = TcpApp.ReadToEnd(slow);
        var clock = Stopwatch.StartNew();

        using Socket echo = await TcpApp.Connect(echoPort);
        await echo.SendAsync("ping"u8.ToArray(), SocketFlags.None);
        await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(echo, 4).WaitAsync(Wait))).IsEqualTo("ping");
        await Assert.That(slowEnd.IsCompleted).IsFalse();
        await Assert.That(await Exchange(metricsPort, "GET /metrics HTTP/1.1\r\n\r\n")).StartsWith("HTTP/1.1 200 OK");

        byte[] answer = await slowEnd.WaitAsync(TimeSpan.FromSeconds(15));
        await Assert.That(answer.Length).IsEqualTo(0);
        await Assert.That(clock.Elapsed).IsGreaterThan(TimeSpan.FromSeconds(4));
    }

    [Test]
    public async Task APortInUse_ExitsNonZero_WithOneLine()
    {
        using var www = new TempWww();
        www.WriteApp("", Echo);
        using Socket taken = TcpApp.Listen(out int port);
        string ini = www.WriteIni($"[metrics]\nport = {port}\n");

        (int code, string output, string error) = await MonaProcess.RunToEnd(Wait, "--config", ini, www.Www);

        await Assert.That(code).IsNotEqualTo(0);
        string[] lines = (output + "\n" + error).Split('\n').Where(l => l.Contains("[metrics] cannot listen", StringComparison.Ordinal)).ToArray();
        await Assert.That(lines.Length).IsEqualTo(1).Because(output + "\n" + error);
        await Assert.That(output).DoesNotContain("] port ").Because("no application starts");
    }
}
