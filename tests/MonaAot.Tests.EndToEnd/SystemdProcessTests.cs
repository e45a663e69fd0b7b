using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
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

/// <summary>docs/guide.md, "Under systemd", on the published binary: Type=notify through a
/// notify socket the test owns, socket activation through Debian's systemd-socket-activate,
/// and packaging/'s units checked by systemd-analyze.</summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class SystemdProcessTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private const int SIGHUP = 1;

    private const string Echo = """
        local server = mona:createTCPServer()
        function server:onConnection(client)
          function client:onReception(data) self:send(data) end
        end
        assert(server:start("127.0.0.1", PORT))
        NOTE("port ", server.port)
        """;

    private static async Task<int> PortOf(MonaProcess mona)
    {
        string line = await mona.WaitForLineText("port ", Wait);
        return int.Parse(line[(line.LastIndexOf("port ", StringComparison.Ordinal) + 5)..]);
    }

    private static async Task EchoesThrough(int port)
    {
        using Socket socket = await TcpApp.Connect(port);
        await socket.SendAsync(Encoding.ASCII.GetBytes("ping"), SocketFlags.None);
        await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(socket, 4))).IsEqualTo("ping");
    }

    /// <summary>The next datagram on the test's notify socket, as text.</summary>
    private static async Task<string> NextState(Socket notify)
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(Wait);
        int n = await notify.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }

    /// <summary>A unix datagram socket bound where NOTIFY_SOCKET will say: a file path, or an
    /// abstract name ("@...").</summary>
    private static Socket NotifySocket(string name, out string variable)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        // .NET spells an abstract name with a leading zero byte, systemd with '@'.
        socket.Bind(new UnixDomainSocketEndPoint(name.StartsWith('@') ? "\0" + name[1..] : name));
        variable = name;
        return socket;
    }

    [Test]
    [Timeout(60_000)]
    [Arguments(false)]
    [Arguments(true)]
    public async Task Notify_ReadyOnceListening_ReloadingThenReadyOnSighup_StoppingOnSigterm(bool abstractName, CancellationToken cancellation)
    {
        using var www = new TempWww();
        www.WriteApp("", Echo.Replace("PORT", "0"));
        string name = abstractName ? $"@monaaot-test-{Environment.ProcessId}-{Guid.NewGuid():N}" : Path.Combine(www.Root, "notify.sock");
        using Socket notify = NotifySocket(name, out string variable);
        await using MonaProcess mona = MonaProcess.StartBinary(
            [new("NOTIFY_SOCKET", variable)], MonaProcess.BinaryPath, "--config", www.WriteIni(""), www.Www);

        string ready = await NextState(notify);
        await Assert.That(ready).StartsWith("READY=1\n");
        await Assert.That(ready).Contains("STATUS=serving ");
        // READY=1 came after main.lua ran: its server is listening.
        await EchoesThrough(await PortOf(mona));

        mona.Signal(SIGHUP);
        string reloading = await NextState(notify);
        await Assert.That(reloading).StartsWith("RELOADING=1\nMONOTONIC_USEC=");
        await Assert.That(await NextState(notify)).StartsWith("READY=1\n");

        mona.Signal(MonaProcess.SIGTERM);
        await Assert.That(await NextState(notify)).StartsWith("STOPPING=1\n");
        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(0);
    }

    [Test]
    [Timeout(60_000)]
    public async Task Sigterm_ClosesTheListenersAtOnce_AndTheOpenConnectionsGoOnUntilTheyEnd(CancellationToken cancellation)
    {
        using var www = new TempWww();
        www.WriteApp("", Echo.Replace("PORT", "0") + "\nfunction onStop() NOTE('stopped') end\n");
        await using MonaProcess mona = MonaProcess.Start("--config", www.WriteIni("[server]\ndrainTimeout = 60\n"), www.Www);
        int port = await PortOf(mona);
        Socket open = await TcpApp.Connect(port);
        await open.SendAsync(Encoding.ASCII.GetBytes("one"), SocketFlags.None, cancellation);
        await TcpApp.ReadExactly(open, 3);

        mona.Signal(MonaProcess.SIGTERM);
        await mona.WaitForLine("1 listener(s) closed; 1 open connection(s) have 60 s", Wait);
        var refused = Assert.ThrowsAsync<SocketException>(() => TcpApp.Connect(port));
        await Assert.That((await refused)!.SocketErrorCode).IsEqualTo(SocketError.ConnectionRefused);
        await open.SendAsync(Encoding.ASCII.GetBytes("two"), SocketFlags.None, cancellation);
        await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(open, 3))).IsEqualTo("two");
        await Assert.That(mona.Lines.Exists(l => l.Contains("stopped"))).IsFalse();

        // The last connection ends: the server stops then, long before the 60 s.
        var clock = Stopwatch.StartNew();
        open.Dispose();
        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(0);
        await Assert.That(clock.Elapsed).IsLessThan(TimeSpan.FromSeconds(5));
        await Assert.That(mona.Lines.Exists(l => l.Contains("stopped"))).IsTrue();
    }

    [Test]
    [Timeout(60_000)]
    public async Task Sigterm_ClosesWhatIsStillOpenAtTheDrainTimeout(CancellationToken cancellation)
    {
        using var www = new TempWww();
        www.WriteApp("", Echo.Replace("PORT", "0"));
        await using MonaProcess mona = MonaProcess.Start("--config", www.WriteIni("[server]\ndrainTimeout = 1\n"), www.Www);
        using Socket open = await TcpApp.Connect(await PortOf(mona));
        await open.SendAsync(Encoding.ASCII.GetBytes("one"), SocketFlags.None, cancellation);
        await TcpApp.ReadExactly(open, 3);

        var clock = Stopwatch.StartNew();
        mona.Signal(MonaProcess.SIGTERM);
        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(0);
        await Assert.That(clock.Elapsed).IsGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(900));
        await Assert.That(mona.Lines.Exists(l => l.Contains("WARN") && l.Contains("drainTimeout reached with 1 connection(s) open"))).IsTrue();
        // The connection was closed by the server, not left behind.
        await Assert.That((await TcpApp.ReadToEnd(open)).Length).IsEqualTo(0);
    }

    [Test]
    [Timeout(60_000)]
    public async Task DrainTimeout_OutOfRange_ExitsWithOneLine(CancellationToken cancellation)
    {
        using var www = new TempWww();
        www.WriteApp("", "");
        (int code, _, string error) = await MonaProcess.RunToEnd(Wait, "--config", www.WriteIni("[server]\ndrainTimeout = -1\n"), www.Www);
        await Assert.That(code).IsEqualTo(2);
        await Assert.That(error).Contains("drainTimeout");
        await Assert.That(error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length).IsEqualTo(1);
    }

    private static string? Tool(string name) =>
        Array.Find(["/usr/bin/" + name, "/bin/" + name, "/usr/sbin/" + name], File.Exists);

    [Test]
    [Timeout(60_000)]
    public async Task SocketActivation_StartAdoptsThePassedSocket_AndAnUnusedOneIsWarnedAbout(CancellationToken cancellation)
    {
        // Debian's systemd package (build.sh installs it): listens, then execs us with
        // LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES once the first connection is waiting.
        string? activate = Tool("systemd-socket-activate");
        Skip.When(activate is null, "systemd-socket-activate is not installed (Debian package systemd; build.sh installs it)");
        int port = TcpApp.FreePort(), unused = TcpApp.FreePort();
        using var www = new TempWww();
        www.WriteApp("", Echo.Replace("PORT", port.ToString()));
        await using MonaProcess mona = MonaProcess.StartCommand(activate!,
            ["-l", $"127.0.0.1:{port}", "-l", $"127.0.0.1:{unused}", "--fdname=echo:spare",
            .. MonaProcess.BinaryCommand, "--config", www.WriteIni(""), www.Www]);

        // The connection made before the server started waits in the passed socket's backlog.
        await mona.WaitForErrorLine($"Listening on 127.0.0.1:{unused}", Wait);
        Task echo = EchoesThrough(port);
        await Assert.That(await PortOf(mona)).IsEqualTo(port);
        await echo;
        await Assert.That(await mona.WaitForLineText($"TCP 127.0.0.1:{port} passed as echo", Wait)).Contains("INFO");
        string warning = await mona.WaitForLineText($"127.0.0.1:{unused} (spare) was passed but no script", Wait);
        await Assert.That(warning).Contains("WARN");

        // A reload stops the server and starts it again: it takes the same passed socket back
        // (systemd still holds it: binding anew would fail), and serves on.
        int before = mona.Lines.Count;
        mona.Signal(SIGHUP);
        int reloaded = await mona.WaitForLine("reloading every application", Wait, before);
        await mona.WaitForLine($"TCP 127.0.0.1:{port} (echo) adopted instead of binding", Wait, reloaded);
        await Assert.That((await mona.WaitForLineText("port ", Wait, reloaded)).EndsWith($"port {port}")).IsTrue();
        await EchoesThrough(port);

        mona.Signal(MonaProcess.SIGTERM);
        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(0);
    }

    [Test]
    [Timeout(60_000)]
    public async Task SocketActivation_UdpBindAdoptsThePassedDatagramSocket(CancellationToken cancellation)
    {
        string? activate = Tool("systemd-socket-activate");
        Skip.When(activate is null, "systemd-socket-activate is not installed (Debian package systemd; build.sh installs it)");
        int port = TcpApp.FreePort(SocketType.Dgram);
        using var www = new TempWww();
        www.WriteApp("", $$"""
            local udp = mona:createUDPSocket()
            function udp:onReception(data, address) self:send(data, address) end
            assert(not udp:bind("127.0.0.1", {{port}}))
            NOTE("bound ", udp.address)
            """);
        await using MonaProcess mona = MonaProcess.StartCommand(activate!,
            ["-d", "-l", $"127.0.0.1:{port}", .. MonaProcess.BinaryCommand, "--config", www.WriteIni(""), www.Www]);

        // A datagram mode activation starts the program when the first datagram is waiting.
        await mona.WaitForErrorLine($"Listening on 127.0.0.1:{port}", Wait);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Connect(new IPEndPoint(IPAddress.Loopback, port));
        await client.SendAsync(Encoding.ASCII.GetBytes("ping"), SocketFlags.None);
        await mona.WaitForLine($"bound 127.0.0.1:{port}", Wait);
        await mona.WaitForLine($"UDP 127.0.0.1:{port} passed", Wait);
        var buffer = new byte[16];
        using var timeout = new CancellationTokenSource(Wait);
        int n = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        await Assert.That(Encoding.ASCII.GetString(buffer, 0, n)).IsEqualTo("ping");

        // After a reload the script binds the same passed socket again.
        int before = mona.Lines.Count;
        mona.Signal(SIGHUP);
        await mona.WaitForLine($"UDP 127.0.0.1:{port} (fd 3) adopted instead of binding", Wait, before);
        await mona.WaitForLine($"bound 127.0.0.1:{port}", Wait, before);
        await client.SendAsync(Encoding.ASCII.GetBytes("pong"), SocketFlags.None);
        using var again = new CancellationTokenSource(Wait);
        n = await client.ReceiveAsync(buffer, SocketFlags.None, again.Token);
        await Assert.That(Encoding.ASCII.GetString(buffer, 0, n)).IsEqualTo("pong");

        mona.Signal(MonaProcess.SIGTERM);
        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(0);
    }

    private static string RepositoryRoot()
    {
        string? folder = AppContext.BaseDirectory;
        while (folder is not null && !File.Exists(Path.Combine(folder, "MonaAot.sln")))
            folder = Path.GetDirectoryName(folder);
        return folder ?? throw new InvalidOperationException("the repository (MonaAot.sln) is not above " + AppContext.BaseDirectory);
    }

    [Test]
    [Timeout(60_000)]
    public async Task PackagingUnits_PassSystemdAnalyzeVerify(CancellationToken cancellation)
    {
        string? analyze = Tool("systemd-analyze");
        Skip.When(analyze is null, "systemd-analyze is not installed (Debian package systemd; build.sh installs it)");
        string packaging = Path.Combine(RepositoryRoot(), "packaging");
        using var www = new TempWww();
        // The unit names /opt/monaaot/monaaot, which verify checks is executable: the copy
        // checked names the binary under test instead.
        string service = File.ReadAllText(Path.Combine(packaging, "monaaot.service"))
            .Replace("ExecStart=/opt/monaaot/monaaot ", $"ExecStart={MonaProcess.BinaryPath} ");
        string servicePath = Path.Combine(www.Root, "monaaot.service"), socketPath = Path.Combine(www.Root, "monaaot.socket");
        File.WriteAllText(servicePath, service);
        File.Copy(Path.Combine(packaging, "monaaot.socket"), socketPath);

        await using MonaProcess verify = MonaProcess.StartCommand(analyze!, "verify", "--man=no", socketPath, servicePath);
        int code = await verify.WaitForExit(Wait);
        string errors = string.Join("\n", verify.ErrorLines) + string.Join("\n", verify.Lines);
        await Assert.That(errors).IsEqualTo("");
        await Assert.That(code).IsEqualTo(0);
    }
}
