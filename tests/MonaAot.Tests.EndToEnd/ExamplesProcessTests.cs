using System;
using System.Collections.Generic;
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

/// <summary>
/// The examples of the repository's examples/ folder, each run from where it is (its www as
/// shipped) by the published binary, with an ini that gives it free ports, against real clients
/// and peers.
/// </summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class ExamplesProcessTests
{
    private static readonly TimeSpan Wait = TcpProcessTests.Wait;

    /// <summary>examples/NAME/www of the repository these tests were built from.</summary>
    private static string ExampleWww(string name)
    {
        string? folder = AppContext.BaseDirectory;
        while (folder is not null && !File.Exists(Path.Combine(folder, "MonaAot.sln")))
            folder = Path.GetDirectoryName(folder);
        if (folder is null)
            throw new InvalidOperationException("the repository (MonaAot.sln) is not above " + AppContext.BaseDirectory);
        return Path.Combine(folder, "examples", name, "www");
    }

    private static async Task<(MonaProcess Mona, int Port)> StartExample(TempWww temp, string name, string ini, string listening, bool debug = false)
    {
        string config = temp.WriteIni(ini);
        MonaProcess mona = debug
            ? MonaProcess.Start("--config", config, "--log=7", ExampleWww(name))
            : MonaProcess.Start("--config", config, ExampleWww(name));
        string line = await mona.WaitForLineText(listening + " listening on port ", Wait);
        string after = line[(line.IndexOf(" listening on port ", StringComparison.Ordinal) + 19)..];
        return (mona, int.Parse(after.Split(' ', ',')[0]));
    }

    private static Socket Listen()
    {
        var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(8);
        return listener;
    }

    private static int PortOf(Socket listener) => ((IPEndPoint)listener.LocalEndPoint!).Port;

    /// <summary>Reads until <paramref name="count"/> lines ("\n") have come; returns them without
    /// their "\n". Throws if the peer closes first.</summary>
    private static async Task<List<string>> ReadLines(Socket socket, int count)
    {
        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (text.ToString().Count(c => c == '\n') < count)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None);
            if (n == 0)
                throw new InvalidOperationException($"closed after '{text}'");
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        return text.ToString().Split('\n').Take(count).ToList();
    }

    // ---- line-server --------------------------------------------------------------------

    private const string LinesIni = "[lines]\nhost=127.0.0.1\nport=0\nmaxLength=64\n";

    [Test]
    [Timeout(60_000)]
    public async Task LineServer_ThreeLinesInOneWrite_ThreeAnswers(CancellationToken cancel)
    {
        using var temp = new TempWww();
        (MonaProcess started, int port) = await StartExample(temp, "line-server", LinesIni, "line server", debug: true);
        await using MonaProcess mona = started;
        using Socket socket = await TcpApp.Connect(port);

        await socket.SendAsync("ECHO one\nTIME\nECHO three\n"u8.ToArray(), SocketFlags.None, cancel);
        List<string> answers = await ReadLines(socket, 3).WaitAsync(Wait, cancel);

        await Assert.That(answers[0]).IsEqualTo("one");
        await Assert.That(answers[1]).Matches("^[0-9]{13}$");
        await Assert.That(answers[2]).IsEqualTo("three");
        await mona.WaitForLine("3 line(s), 0 byte(s) kept", Wait); // all three in one call
    }

    [Test]
    [Timeout(60_000)]
    public async Task LineServer_LineSplitOverTwoWrites_AnsweredOnce(CancellationToken cancel)
    {
        using var temp = new TempWww();
        (MonaProcess started, int port) = await StartExample(temp, "line-server", LinesIni, "line server", debug: true);
        await using MonaProcess mona = started;
        using Socket socket = await TcpApp.Connect(port);

        await socket.SendAsync("ECHO hel"u8.ToArray(), SocketFlags.None, cancel);
        await mona.WaitForLine("0 line(s), 8 byte(s) kept", Wait); // the first part is kept, unanswered
        await socket.SendAsync("lo\nQUIT\n"u8.ToArray(), SocketFlags.None, cancel);
        byte[] all = await TcpApp.ReadToEnd(socket).WaitAsync(Wait, cancel);

        await Assert.That(Encoding.ASCII.GetString(all)).IsEqualTo("hello\nBYE\n");
    }

    [Test]
    [Timeout(60_000)]
    public async Task LineServer_OverlongLine_ErrorThenClose(CancellationToken cancel)
    {
        using var temp = new TempWww();
        (MonaProcess started, int port) = await StartExample(temp, "line-server", LinesIni, "line server");
        await using MonaProcess mona = started;
        using Socket socket = await TcpApp.Connect(port);

        // A good line, then 100 bytes without an end: more than maxLength can never become a line.
        await socket.SendAsync(Encoding.ASCII.GetBytes("ECHO ok\n" + new string('x', 100)), SocketFlags.None, cancel);
        byte[] all = await TcpApp.ReadToEnd(socket).WaitAsync(Wait, cancel);

        await Assert.That(Encoding.ASCII.GetString(all)).IsEqualTo("ok\nERR line too long (max 64 bytes)\n");
        await mona.WaitForLine("line longer than 64 bytes, closing", Wait);
    }

    // ---- json-service -----------------------------------------------------------------------

    private const string JsonSecret = "the test's secret";

    /// <summary>Sends one request line, reads one answer line, parses it.</summary>
    private static async Task<System.Text.Json.JsonElement> Ask(Socket socket, string request, CancellationToken cancel)
    {
        await socket.SendAsync(Encoding.UTF8.GetBytes(request + "\n"), SocketFlags.None, cancel);
        List<string> lines = await ReadLines(socket, 1).WaitAsync(Wait, cancel);
        return System.Text.Json.JsonDocument.Parse(lines[0]).RootElement.Clone();
    }

    [Test]
    [Timeout(60_000)]
    public async Task JsonService_LoginWhoamiSum_TokensSignedWithHmacSha256(CancellationToken cancel)
    {
        using var temp = new TempWww();
        (MonaProcess started, int port) = await StartExample(temp, "json-service", $"[json]\nport=0\nsecret={JsonSecret}\n", "JSON service");
        await using MonaProcess mona = started;
        using Socket socket = await TcpApp.Connect(port);

        string token = (await Ask(socket, """{"op":"login","user":"ann"}""", cancel)).GetProperty("token").GetString()!;
        // The signature, checked with .NET's own HMAC: hex of HMAC-SHA256(secret, payload).
        string payload = token[..token.IndexOf('.')];
        string signature = token[(token.IndexOf('.') + 1)..];
        byte[] expected = System.Security.Cryptography.HMACSHA256.HashData(Encoding.UTF8.GetBytes(JsonSecret), Encoding.ASCII.GetBytes(payload));
        await Assert.That(signature).IsEqualTo(Convert.ToHexStringLower(expected));
        using var claims = System.Text.Json.JsonDocument.Parse(Convert.FromBase64String(payload));
        await Assert.That(claims.RootElement.GetProperty("user").GetString()).IsEqualTo("ann");
        long expires = claims.RootElement.GetProperty("expires").GetInt64(); // an integer, not 1.7e12
        await Assert.That(expires).IsGreaterThan(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

        System.Text.Json.JsonElement who = await Ask(socket, $$"""{"op":"whoami","token":"{{token}}"}""", cancel);
        await Assert.That(who.GetProperty("user").GetString()).IsEqualTo("ann");
        await Assert.That(who.GetProperty("expires").GetInt64()).IsEqualTo(expires);

        System.Text.Json.JsonElement sum = await Ask(socket, $$"""{"op":"sum","token":"{{token}}","values":[1,2,3.5,-4]}""", cancel);
        await Assert.That(sum.GetProperty("sum").GetDouble()).IsEqualTo(2.5);
        System.Text.Json.JsonElement intSum = await Ask(socket, $$"""{"op":"sum","token":"{{token}}","values":[40,2]}""", cancel);
        await Assert.That(intSum.GetProperty("sum").GetRawText()).IsEqualTo("42");
    }

    [Test]
    [Timeout(60_000)]
    public async Task JsonService_ForgedOrBadRequests_AnErrorEach_TheConnectionStays(CancellationToken cancel)
    {
        using var temp = new TempWww();
        (MonaProcess started, int port) = await StartExample(temp, "json-service", $"[json]\nport=0\nsecret={JsonSecret}\n", "JSON service");
        await using MonaProcess mona = started;
        using Socket socket = await TcpApp.Connect(port);

        string token = (await Ask(socket, """{"op":"login","user":"ann"}""", cancel)).GetProperty("token").GetString()!;
        string signature = token[(token.IndexOf('.') + 1)..];
        // Another user in the payload, the old signature: refused.
        string forgedPayload = Convert.ToBase64String(Encoding.UTF8.GetBytes("""{"user":"root","expires":99999999999999}"""));
        System.Text.Json.JsonElement forged = await Ask(socket, $$"""{"op":"whoami","token":"{{forgedPayload}}.{{signature}}"}""", cancel);
        await Assert.That(forged.GetProperty("error").GetString()).IsEqualTo("bad token");

        System.Text.Json.JsonElement bad = await Ask(socket, """{"op":"login","user":"ann",}""", cancel);
        await Assert.That(bad.GetProperty("error").GetString()!).StartsWith("bad JSON: ");
        System.Text.Json.JsonElement notObject = await Ask(socket, "[1,2]", cancel);
        await Assert.That(notObject.GetProperty("error").GetString()).IsEqualTo("a request is a JSON object");
        System.Text.Json.JsonElement unknown = await Ask(socket, """{"op":"delete"}""", cancel);
        await Assert.That(unknown.GetProperty("error").GetString()).IsEqualTo("unknown op \"delete\"");
        System.Text.Json.JsonElement badValues = await Ask(socket, $$"""{"op":"sum","token":"{{token}}","values":[1,"two"]}""", cancel);
        await Assert.That(badValues.GetProperty("error").GetString()).IsEqualTo("values must be an array of numbers");

        System.Text.Json.JsonElement infinite = await Ask(socket, $$"""{"op":"sum","token":"{{token}}","values":[1e308,1e308]}""", cancel);
        await Assert.That(infinite.GetProperty("error").GetString()).IsEqualTo("the sum is not a finite number");

        // Still the same connection, still serving.
        System.Text.Json.JsonElement who = await Ask(socket, $$"""{"op":"whoami","token":"{{token}}"}""", cancel);
        await Assert.That(who.GetProperty("user").GetString()).IsEqualTo("ann");
        await Assert.That(mona.Lines.Any(l => l.Contains("ERROR", StringComparison.Ordinal))).IsFalse().Because(string.Join("\n", mona.Lines));
    }

    // ---- tls ------------------------------------------------------------------------------

    /// <summary>A Python TLS client of the echo server: sends a line, prints what came back.</summary>
    private const string PyEchoClient = """
        import socket, ssl, sys
        port, ca = int(sys.argv[1]), sys.argv[2]
        ctx = ssl.create_default_context(cafile=ca)
        with socket.create_connection(('127.0.0.1', port), timeout=30) as raw:
            with ctx.wrap_socket(raw, server_hostname='localhost') as s:
                s.sendall(b'hello over TLS\n')
                got = b''
                while not got.endswith(b'\n'):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
                print('echo', got.decode().strip(), s.version(), flush=True)
        """;

    /// <summary>A local HTTPS server (Python's http.server over ssl) serving the folder it is
    /// given; prints "port N".</summary>
    private const string PyHttpsServer = """
        import functools, http.server, ssl, sys
        folder, cert, key = sys.argv[1], sys.argv[2], sys.argv[3]
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=folder)
        httpd = http.server.HTTPServer(('127.0.0.1', 0), handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        print('port', httpd.server_address[1], flush=True)
        httpd.serve_forever()
        """;

    private static string TlsIni(TestCertificates certs, string fetch = "") =>
        $"[tls]\ncertificate={certs.ServerCert}\nkey={certs.ServerKey}\n[echo]\nport=0\n{fetch}";

    [Test]
    [Timeout(120_000)]
    public async Task Tls_EchoServer_APythonClientGetsItsLineBack(CancellationToken cancel)
    {
        using TestCertificates certs = await TestCertificates.Make();
        using var temp = new TempWww();
        (MonaProcess started, int port) = await StartExample(temp, "tls", TlsIni(certs), "TLS echo server");
        await using MonaProcess mona = started;

        List<string> lines = await TlsPeer.RunPython(Wait, PyEchoClient, port.ToString(), certs.CaCert);

        await Assert.That(lines).Contains("echo hello over TLS TLSv1.3").Because(string.Join("\n", lines));
        await mona.WaitForLine("(TLSv1.3, ALPN nil)", Wait);
    }

    [Test]
    [Timeout(120_000)]
    public async Task Tls_Fetch_ALocalHttpsServer_StatusAndBody(CancellationToken cancel)
    {
        using TestCertificates certs = await TestCertificates.Make();
        using var temp = new TempWww();
        string site = Path.Combine(certs.Folder, "site");
        Directory.CreateDirectory(site);
        File.WriteAllText(Path.Combine(site, "hello.txt"), "hello from the HTTPS server\nsecond line\n");
        await using TlsPeer https = TlsPeer.Python(PyHttpsServer, site, certs.ServerCert, certs.ServerKey);
        string portLine = await https.WaitForLine("port ", Wait);
        string url = $"https://localhost:{portLine["port ".Length..]}/hello.txt";

        (MonaProcess started, _) = await StartExample(temp, "tls", TlsIni(certs, $"[fetch]\nurl={url}\nca={certs.CaCert}\n"), "TLS echo server");
        await using MonaProcess mona = started;

        string fetched = await mona.WaitForLineText("fetched ", Wait);
        await Assert.That(fetched).EndsWith($"fetched {url}: status 200, 40 bytes: hello from the HTTPS server");
    }

    [Test]
    [Timeout(120_000)]
    public async Task Tls_Fetch_WithoutTheCa_TheRefusalNamesItsCause(CancellationToken cancel)
    {
        using TestCertificates certs = await TestCertificates.Make();
        using var temp = new TempWww();
        string site = Path.Combine(certs.Folder, "site");
        Directory.CreateDirectory(site);
        await using TlsPeer https = TlsPeer.Python(PyHttpsServer, site, certs.ServerCert, certs.ServerKey);
        string portLine = await https.WaitForLine("port ", Wait);
        string url = $"https://localhost:{portLine["port ".Length..]}/";

        (MonaProcess started, _) = await StartExample(temp, "tls", TlsIni(certs, $"[fetch]\nurl={url}\n"), "TLS echo server");
        await using MonaProcess mona = started;

        string failed = await mona.WaitForLineText("fetch ", Wait);
        await Assert.That(failed).Contains($"fetch {url} failed: TLS handshake failed: certificate not trusted");
    }

    // ---- heartbeat -----------------------------------------------------------------------

    /// <summary>Short intervals, so that a timeout and four reconnections take a few seconds. The
    /// timeout leaves room for a loaded machine: a late PONG must not count as a dead peer.</summary>
    private const string HeartbeatTimes = "interval=100\ntimeout=1000\nbackoff=100\nmaxBackoff=400\n";

    [Test]
    [Timeout(60_000)]
    public async Task Heartbeat_IncludedPongServer_PingsAnswered(CancellationToken cancel)
    {
        using var temp = new TempWww();
        (MonaProcess started, _) = await StartExample(temp, "heartbeat",
            "[pong]\nhost=127.0.0.1\nport=0\n[heartbeat]\n" + HeartbeatTimes, "pong server");
        await using MonaProcess mona = started;

        await mona.WaitForLine("alive: PONG 1 after ", Wait);
        await mona.WaitForLine("] PONG 5 after ", Wait);

        await Assert.That(mona.Lines.Any(l => l.Contains("considered dead") || l.Contains("reconnecting"))).IsFalse()
            .Because(string.Join("\n", mona.Lines));
    }

    /// <summary>
    /// A peer that answers <paramref name="answers"/> PINGs, then goes silent while still
    /// reading; returns once the client closed the connection (its FIN).
    /// </summary>
    private static async Task AnswerThenGoSilent(Socket listener, int answers, CancellationToken cancel)
    {
        using Socket peer = await listener.AcceptAsync(cancel);
        var buffer = new byte[4096];
        string pending = "";
        int answered = 0;
        int n;
        while ((n = await peer.ReceiveAsync(buffer, SocketFlags.None, cancel)) > 0)
        {
            pending += Encoding.ASCII.GetString(buffer, 0, n);
            int newline;
            while ((newline = pending.IndexOf('\n')) >= 0)
            {
                string line = pending[..newline];
                pending = pending[(newline + 1)..];
                if (answered < answers && line.StartsWith("PING ", StringComparison.Ordinal))
                {
                    await peer.SendAsync(Encoding.ASCII.GetBytes("PONG " + line[5..] + "\n"), SocketFlags.None, cancel);
                    answered++;
                }
            }
        }
        if (answered < answers)
            throw new InvalidOperationException($"the client closed after {answered} of {answers} PINGs");
    }

    [Test]
    [Timeout(60_000)]
    public async Task Heartbeat_PeerGoesSilent_TimeoutThenReconnectsWithBackoff(CancellationToken cancel)
    {
        using Socket peer = Listen();
        using var temp = new TempWww();
        (MonaProcess started, _) = await StartExample(temp, "heartbeat",
            $"[pong]\nhost=127.0.0.1\nport=0\n[heartbeat]\nhost=127.0.0.1\nport={PortOf(peer)}\n" + HeartbeatTimes, "pong server");
        await using MonaProcess mona = started;

        // Three PONGs, then silence: PING 4 times out, and the backoff starts again from its
        // first delay since the peer had answered.
        await AnswerThenGoSilent(peer, 3, cancel).WaitAsync(Wait, cancel);
        int dead = await mona.WaitForLine("no PONG to PING 4 within 1000 ms", Wait);
        await mona.WaitForLine("reconnecting in 100 ms", Wait, dead);
        // Silent from the start, three times: the delay doubles up to maxBackoff.
        for (int attempt = 0; attempt < 3; attempt++)
            await AnswerThenGoSilent(peer, 0, cancel).WaitAsync(Wait, cancel);
        await mona.WaitForLine("no PONG to PING 1 within 1000 ms", Wait, dead);

        int last = await mona.WaitForLine("reconnecting in 400 ms", Wait, await mona.WaitForLine("reconnecting in 400 ms", Wait, dead) + 1);
        List<string> delays = mona.Lines.Take(last + 1).Where(l => l.Contains("reconnecting in ")).Select(l => l[(l.IndexOf("reconnecting in ", StringComparison.Ordinal) + 16)..]).ToList();
        await Assert.That(string.Join(", ", delays)).IsEqualTo("100 ms, 200 ms, 400 ms, 400 ms");
        await Assert.That(mona.Lines.Count(l => l.Contains("alive: PONG 1 after "))).IsEqualTo(1);
    }

    // ---- relay ---------------------------------------------------------------------------

    /// <summary>Byte p of a stream is p % 251 (a prime, so no power-of-two chunking hides a
    /// shift); <see cref="PatternSource"/> holds every slice a sender needs.</summary>
    private static readonly byte[] PatternSource = Enumerable.Range(0, (1 << 20) + 251).Select(i => (byte)(i % 251)).ToArray();

    private static ReadOnlyMemory<byte> PatternAt(long position, int length) => PatternSource.AsMemory((int)(position % 251), length);

    /// <summary>Sends <paramref name="size"/> bytes of the pattern in 1 MiB writes, then the FIN.</summary>
    private static async Task SendPattern(Socket socket, long size, CancellationToken cancel)
    {
        for (long sent = 0; sent < size;)
        {
            int piece = (int)Math.Min(size - sent, 1 << 20);
            sent += await socket.SendAsync(PatternAt(sent, piece), SocketFlags.None, cancel);
        }
        socket.Shutdown(SocketShutdown.Send);
    }

    /// <summary>Reads to the end, checking every byte against the pattern; returns the count.
    /// A pause of <paramref name="delayEveryChunk"/> ms after each read makes a slow reader.</summary>
    private static async Task<long> ReceivePattern(Socket socket, int delayEveryChunk, CancellationToken cancel)
    {
        var buffer = new byte[65536];
        long received = 0;
        while (true)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancel);
            if (n == 0)
                return received;
            if (!buffer.AsSpan(0, n).SequenceEqual(PatternAt(received, n).Span))
                throw new InvalidDataException($"the stream differs within bytes {received}..{received + n}");
            received += n;
            if (delayEveryChunk > 0)
                await Task.Delay(delayEveryChunk, cancel);
        }
    }

    /// <summary>A backend for one connection: echoes everything, and answers the FIN with its own.</summary>
    private static async Task EchoOnce(Socket listener, CancellationToken cancel)
    {
        using Socket peer = await listener.AcceptAsync(cancel);
        var buffer = new byte[65536];
        int n;
        while ((n = await peer.ReceiveAsync(buffer, SocketFlags.None, cancel)) > 0)
            await peer.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, cancel);
        peer.Shutdown(SocketShutdown.Send);
    }

    [Test]
    [Timeout(120_000)]
    public async Task Relay_EchoBackend_EveryByteBackInOrderThenEof(CancellationToken cancel)
    {
        const long Size = 16 << 20;
        using Socket backend = Listen();
        using var temp = new TempWww();
        (MonaProcess started, int port) = await StartExample(temp, "relay",
            $"[relay]\nhost=127.0.0.1\nport=0\nbackend=127.0.0.1:{PortOf(backend)}\n", "relay");
        await using MonaProcess mona = started;
        Task echo = EchoOnce(backend, cancel);
        using Socket client = await TcpApp.Connect(port);

        Task send = SendPattern(client, Size, cancel);
        long received = await ReceivePattern(client, 0, cancel).WaitAsync(Wait * 3, cancel);
        await send;
        await echo.WaitAsync(Wait, cancel);

        await Assert.That(received).IsEqualTo(Size);
        await mona.WaitForLine("client side closed", Wait);
        await mona.WaitForLine("backend side closed", Wait);
        await Assert.That(mona.Lines.Any(l => l.Contains("WARN"))).IsFalse().Because(string.Join("\n", mona.Lines));
    }

    /// <summary>
    /// A backend slower than the client: the relay pauses its reading of the client while the
    /// backend's queue is above the high mark, so its memory stays bounded while 256 MiB pass
    /// (without backpressure the queue would grow to the [tcp] sendLimit and the connection end).
    /// </summary>
    [Test]
    [NotInParallel]
    [Timeout(180_000)]
    public async Task Relay_SlowBackend_RssStaysBounded(CancellationToken cancel)
    {
        Skip.When(Runner.IsSet, Runner.SkipReason("VmRSS is the emulator's (its translated code and its own heap beside the binary's), not the binary's"));
        const long Size = 256L << 20;
        using Socket backend = Listen();
        backend.ReceiveBufferSize = 65536; // accepted sockets inherit it: a small window
        using var temp = new TempWww();
        (MonaProcess started, int port) = await StartExample(temp, "relay",
            $"[relay]\nhost=127.0.0.1\nport=0\nbackend=127.0.0.1:{PortOf(backend)}\n", "relay");
        await using MonaProcess mona = started;
        Task<long> sink = Task.Run(async () =>
        {
            using Socket peer = await backend.AcceptAsync(cancel);
            long count = await ReceivePattern(peer, 1, cancel);
            peer.Shutdown(SocketShutdown.Send);
            return count;
        }, cancel);
        using Socket client = await TcpApp.Connect(port);

        Task send = SendPattern(client, Size, cancel);
        long maxRss = 0;
        while (!sink.IsCompleted)
        {
            maxRss = Math.Max(maxRss, RssOf(mona.Id));
            await Task.WhenAny(sink, Task.Delay(20, cancel)); // a sampling period, not a synchronisation
        }
        long received = await sink;
        await send;
        byte[] rest = await TcpApp.ReadToEnd(client).WaitAsync(Wait, cancel); // the backend's FIN, forwarded

        await Assert.That(received).IsEqualTo(Size);
        await Assert.That(rest.Length).IsEqualTo(0);
        await Assert.That(maxRss).IsLessThan(64L << 20).Because($"VmRSS peaked at {maxRss >> 10} KiB");
        await mona.WaitForLine("client side closed", Wait);
        await mona.WaitForLine("backend side closed", Wait);
    }

    /// <summary>VmRSS of /proc/PID/status, in bytes.</summary>
    private static long RssOf(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        throw new InvalidOperationException("no VmRSS in /proc/" + pid + "/status");
    }

    [Test]
    [Timeout(60_000)]
    public async Task Relay_BackendRefuses_ClientClosedWithLoggedReason(CancellationToken cancel)
    {
        using Socket refusing = TcpApp.RefusingPort(out int closedPort);
        using var temp = new TempWww();
        (MonaProcess started, int port) = await StartExample(temp, "relay",
            $"[relay]\nhost=127.0.0.1\nport=0\nbackend=127.0.0.1:{closedPort}\n", "relay");
        await using MonaProcess mona = started;
        using Socket client = await TcpApp.Connect(port);

        byte[] all = await TcpApp.ReadToEnd(client).WaitAsync(Wait, cancel);

        await Assert.That(all.Length).IsEqualTo(0);
        string line = await mona.WaitForLineText($"backend 127.0.0.1:{closedPort} failed: ", Wait);
        await Assert.That(line).Contains("connection refused");
        await Assert.That(line).Contains("closing the client connection");
    }
}
