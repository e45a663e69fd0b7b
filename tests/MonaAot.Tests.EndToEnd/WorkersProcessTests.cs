using System;
using System.Collections.Generic;
using System.Globalization;
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

/// <summary>docs/guide.md, "Running N workers", on the published binary: <c>[server] workers</c>
/// makes a supervisor of N worker processes that share their ports (SO_REUSEPORT), write through
/// one log writer, come back when killed, and stop together.</summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class WorkersProcessTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private const int SIGHUP = 1;
    private const int SIGKILL = 9;

    /// <summary>A TCP echo and a UDP echo on fixed ports ([app] tcp, udp), each answer prefixed
    /// with the worker that gave it ("2:ping").</summary>
    private const string Echo = """
        NOTE("worker ", mona.worker, " of ", mona.workers)
        local server = mona:createTCPServer()
        function server:onConnection(client)
          function client:onReception(data) self:send(mona.worker .. ":" .. data) end
        end
        assert(server:start("127.0.0.1", mona.configs["app.tcp"]))
        local udp = mona:createUDPSocket()
        function udp:onReception(data, address) self:send(mona.worker .. ":" .. data, address) end
        if mona.configs["app.udp"] then assert(not udp:bind("127.0.0.1:" .. mona.configs["app.udp"])) end
        """;

    private sealed class Fleet : IAsyncDisposable
    {
        public required TempWww Www { get; init; }
        public required MonaProcess Mona { get; init; }
        public required int TcpPort { get; init; }
        public required int UdpPort { get; init; }

        public async ValueTask DisposeAsync()
        {
            await Mona.DisposeAsync();
            Www.Dispose();
        }
    }

    private static async Task<Fleet> StartFleet(int workers, string extraIni = "", IEnumerable<KeyValuePair<string, string?>>? environment = null)
    {
        var www = new TempWww();
        www.WriteApp("", Echo);
        int tcp = TcpApp.FreePort(SocketType.Stream), udp = TcpApp.FreePort(SocketType.Dgram);
        string ini = www.WriteIni($"[server]\nworkers = {workers}\ndrainTimeout = 0\n{extraIni}\n[app]\ntcp = {tcp}\nudp = {udp}\n");
        MonaProcess mona = MonaProcess.StartBinary(environment, MonaProcess.BinaryPath, "--config", ini, www.Www);
        var fleet = new Fleet { Www = www, Mona = mona, TcpPort = tcp, UdpPort = udp };
        if (workers > 1)
            await mona.WaitForLine($"{workers} workers ready", Wait);
        else
            await mona.WaitForLine("Application '/' started", Wait);
        return fleet;
    }

    /// <summary>The pid the supervisor logged for worker <paramref name="number"/>'s latest start.</summary>
    private static int WorkerPid(MonaProcess mona, int number, int workers)
    {
        string prefix = $"worker {number}/{workers} started (pid ";
        string line = mona.Lines.Last(l => l.Contains(prefix, StringComparison.Ordinal));
        string rest = line[(line.IndexOf(prefix, StringComparison.Ordinal) + prefix.Length)..];
        return int.Parse(rest[..rest.IndexOf(')')], CultureInfo.InvariantCulture);
    }

    /// <summary>The processes whose parent is <paramref name="pid"/>, from /proc.</summary>
    private static List<int> ChildrenOf(int pid)
    {
        var children = new List<int>();
        foreach (string task in Directory.GetDirectories($"/proc/{pid}/task"))
        {
            string text = File.ReadAllText(Path.Combine(task, "children"));
            children.AddRange(text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)));
        }
        return children;
    }

    private static bool IsAlive(int pid) => File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);

    /// <summary>Connects, sends "ping", returns (the worker that answered, the socket).</summary>
    private static async Task<(int Worker, Socket Socket)> Ping(int port)
    {
        Socket socket = await TcpApp.Connect(port);
        int worker = await RoundTrip(socket, "ping");
        return (worker, socket);
    }

    /// <summary>One echo on <paramref name="socket"/>: the answer is "N:text"; returns N.</summary>
    private static async Task<int> RoundTrip(Socket socket, string text)
    {
        await socket.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None);
        string answer = Encoding.ASCII.GetString(await TcpApp.ReadExactly(socket, 2 + text.Length));
        if (answer[1] != ':' || answer[2..] != text)
            throw new InvalidOperationException($"unexpected answer '{answer}' to '{text}'");
        return answer[0] - '0';
    }

    [Test]
    [Timeout(60_000)]
    public async Task TwoWorkers_AreChildProcesses_EachRunsWww_AndTheLogHasOneWriter(CancellationToken cancellation)
    {
        using var logs = new TempWww();
        await using Fleet fleet = await StartFleet(2, $"[logs]\ndirectory = {logs.Root}/logs\n");
        MonaProcess mona = fleet.Mona;
        List<int> children = ChildrenOf(mona.Id);
        await Assert.That(children.Count).IsEqualTo(2);
        int first = WorkerPid(mona, 1, 2), second = WorkerPid(mona, 2, 2);
        await Assert.That(children).Contains(first);
        await Assert.That(children).Contains(second);
        // Each worker is the executable itself, not a fork of the supervisor.
        await Assert.That(File.ReadAllText($"/proc/{first}/cmdline")).StartsWith(MonaProcess.BinaryPath + "\0");
        await Assert.That(File.ReadAllText($"/proc/{first}/environ")).Contains("MONAAOT_WORKER=1/2\0");

        // Every script line says its worker; both ran the whole www.
        await mona.WaitForLine("[w1] main.lua[1] worker 1 of 2", Wait);
        await mona.WaitForLine("[w2] main.lua[1] worker 2 of 2", Wait);

        // One writer: the supervisor's log file has its own lines and both workers'; the workers
        // hold no log file open.
        string log = File.ReadAllText(Path.Combine(logs.Root, "logs", "log.0"));
        await Assert.That(log).Contains("supervising 2 workers");
        await Assert.That(log).Contains("[w1] main.lua[1] worker 1 of 2");
        await Assert.That(log).Contains("[w2] main.lua[1] worker 2 of 2");
        foreach (int worker in new[] { first, second })
        {
            foreach (string fd in Directory.GetFiles($"/proc/{worker}/fd"))
            {
                string target = new FileInfo(fd).LinkTarget ?? "";
                await Assert.That(target).DoesNotContain(Path.Combine(logs.Root, "logs"));
            }
        }

        mona.Signal(MonaProcess.SIGTERM);
        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(0);
        await Assert.That(IsAlive(first) || IsAlive(second)).IsFalse();
    }

    [Test]
    [Timeout(90_000)]
    public async Task TcpAndUdp_OnePortEach_AreServedByBothWorkers(CancellationToken cancellation)
    {
        await using Fleet fleet = await StartFleet(2);
        var tcp = new int[3];
        var open = new List<Socket>();
        try
        {
            for (int i = 0; i < 200; i++)
            {
                (int worker, Socket socket) = await Ping(fleet.TcpPort);
                tcp[worker]++;
                open.Add(socket);
            }
        }
        finally
        {
            foreach (Socket socket in open)
                socket.Dispose();
        }
        await Assert.That(tcp[1] + tcp[2]).IsEqualTo(200);
        // The kernel hashes each connection's addresses: both get some (a 50/50 split has a
        // chance of 2^-199 of giving one worker everything).
        await Assert.That(tcp[1]).IsGreaterThan(0);
        await Assert.That(tcp[2]).IsGreaterThan(0);

        var udp = new int[3];
        var buffer = new byte[64];
        for (int i = 0; i < 100; i++)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Connect(new IPEndPoint(IPAddress.Loopback, fleet.UdpPort));
            await socket.SendAsync(Encoding.ASCII.GetBytes("u"), SocketFlags.None);
            using var timeout = new CancellationTokenSource(Wait);
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            await Assert.That(Encoding.ASCII.GetString(buffer, 1, n - 1)).IsEqualTo(":u");
            udp[buffer[0] - '0']++;
        }
        await Assert.That(udp[1]).IsGreaterThan(0);
        await Assert.That(udp[2]).IsGreaterThan(0);
    }

    [Test]
    [Timeout(90_000)]
    public async Task SigkillOfOneWorkerUnderLoad_EndsOnlyItsConnections_ItComesBack_TheOtherNeverStops(CancellationToken cancellation)
    {
        await using Fleet fleet = await StartFleet(2);
        MonaProcess mona = fleet.Mona;
        int victim = WorkerPid(mona, 1, 2);

        // Connections to both workers, until each has at least 5.
        var byWorker = new Dictionary<int, List<Socket>> { [1] = new(), [2] = new() };
        for (int i = 0; i < 400 && (byWorker[1].Count < 5 || byWorker[2].Count < 5); i++)
        {
            (int worker, Socket socket) = await Ping(fleet.TcpPort);
            byWorker[worker].Add(socket);
        }
        await Assert.That(byWorker[1].Count).IsGreaterThanOrEqualTo(5);
        await Assert.That(byWorker[2].Count).IsGreaterThanOrEqualTo(5);

        // Load on worker 2's connections the whole time: every round trip must succeed.
        using var stop = new CancellationTokenSource();
        long roundTrips = 0;
        async Task Load(Socket socket, int index)
        {
            for (int n = 0; !stop.IsCancellationRequested; n++)
            {
                string text = $"c{index}-{n}";
                int worker = await RoundTrip(socket, text);
                if (worker != 2)
                    throw new InvalidOperationException($"worker {worker} answered on a connection of worker 2");
                Interlocked.Increment(ref roundTrips);
            }
        }
        Task[] load = byWorker[2].Select((socket, index) => Load(socket, index)).ToArray();

        int mark = mona.Lines.Count;
        await Assert.That(MonaProcess.Signal(victim, SIGKILL)).IsTrue();

        // Worker 1's connections end (reset or FIN), whatever they were doing.
        foreach (Socket socket in byWorker[1])
        {
            using var timeout = new CancellationTokenSource(Wait);
            bool ended;
            try
            {
                ended = await socket.ReceiveAsync(new byte[16], SocketFlags.None, timeout.Token) == 0;
            }
            catch (SocketException)
            {
                ended = true;
            }
            await Assert.That(ended).IsTrue();
        }

        // The supervisor logs the death and starts worker 1 again, as a new process.
        await mona.WaitForLine("worker 1/2 (pid " + victim + ") was killed by signal 9", Wait, mark);
        await mona.WaitForLine("worker 1/2 started (pid ", Wait, mark);
        int reborn = WorkerPid(mona, 1, 2);
        await Assert.That(reborn).IsNotEqualTo(victim);
        await mona.WaitForLine("[w1] main.lua[1] worker 1 of 2", Wait, mark);

        // Worker 2 kept answering through all of it, on every one of its connections.
        long before = Interlocked.Read(ref roundTrips);
        var served = new int[3];
        var fresh = new List<Socket>();
        try
        {
            // New connections reach the new worker 1 again (bounded: the kernel hashes each one).
            for (int i = 0; i < 400 && served[1] == 0; i++)
            {
                (int worker, Socket socket) = await Ping(fleet.TcpPort);
                served[worker]++;
                fresh.Add(socket);
            }
        }
        finally
        {
            foreach (Socket socket in fresh)
                socket.Dispose();
        }
        await Assert.That(served[1]).IsGreaterThan(0);
        // Worker 2's connections are still being answered (each load loop throws on an error).
        using (var progress = new CancellationTokenSource(Wait))
        {
            while (Interlocked.Read(ref roundTrips) < before + 100 && !load.Any(t => t.IsFaulted))
                await Task.Delay(5, progress.Token);
        }
        await Assert.That(load.Any(t => t.IsFaulted)).IsFalse();
        stop.Cancel();
        await Task.WhenAll(load);
        foreach (Socket socket in byWorker[1].Concat(byWorker[2]))
            socket.Dispose();
    }

    [Test]
    [Timeout(60_000)]
    public async Task Sighup_ReloadsEveryWorker_AndSigtermStopsThemAll(CancellationToken cancellation)
    {
        await using Fleet fleet = await StartFleet(2);
        MonaProcess mona = fleet.Mona;
        int first = WorkerPid(mona, 1, 2), second = WorkerPid(mona, 2, 2);
        int mark = mona.Lines.Count;
        mona.Signal(SIGHUP);
        await mona.WaitForLine("[w1] Server.cs", Wait, mark);
        await mona.WaitForLine("reloading every application", Wait, mark);
        await mona.WaitForLine("2 workers ready", Wait, mark);
        await mona.WaitForLine("[w1] main.lua[1] worker 1 of 2", Wait, mark);
        await mona.WaitForLine("[w2] main.lua[1] worker 2 of 2", Wait, mark);
        // A reload is not a restart: the same two processes.
        await Assert.That(ChildrenOf(mona.Id).OrderBy(p => p).ToArray()).IsEquivalentTo(new[] { first, second }.OrderBy(p => p).ToArray());

        mona.Signal(MonaProcess.SIGTERM);
        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(0);
        await Assert.That(mona.Lines.Exists(l => l.Contains("[w1] Server.cs") && l.Contains("SIGTERM received, stopping"))).IsTrue();
        await Assert.That(mona.Lines.Exists(l => l.Contains("[w2] Server.cs") && l.Contains("SIGTERM received, stopping"))).IsTrue();
        await Assert.That(IsAlive(first) || IsAlive(second)).IsFalse();
    }

    [Test]
    [Timeout(60_000)]
    public async Task AWorkerThatKeepsDying_IsRestartedWithADoublingDelay_TheOtherServesOn(CancellationToken cancellation)
    {
        using var www = new TempWww();
        int tcp = TcpApp.FreePort(SocketType.Stream);
        // Worker 2 ends as soon as it starts, before it listens (os.exit, code 3: not a
        // configuration refusal).
        www.WriteApp("", "if mona.worker == 2 then os.exit(3) end\n" + Echo);
        await using MonaProcess mona = MonaProcess.Start("--config", www.WriteIni($"[server]\nworkers = 2\ndrainTimeout = 0\n[app]\ntcp = {tcp}\n"), www.Www);
        int first = await mona.WaitForLine("worker 2/2 (pid ", Wait);
        await Assert.That(mona.Lines[first]).Contains("exited with code 3");
        await Assert.That(mona.Lines[first]).Contains("restarting in 100 ms");
        await mona.WaitForLine("restarting in 200 ms", Wait, first);
        await mona.WaitForLine("restarting in 400 ms", Wait, first);
        // Worker 1 serves all along.
        (int worker, Socket socket) = await Ping(tcp);
        socket.Dispose();
        await Assert.That(worker).IsEqualTo(1);
        mona.Signal(MonaProcess.SIGTERM);
        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(0);
    }

    [Test]
    [Timeout(60_000)]
    public async Task SupervisorKilled_TheWorkersEndToo(CancellationToken cancellation)
    {
        await using Fleet fleet = await StartFleet(2);
        MonaProcess mona = fleet.Mona;
        int first = WorkerPid(mona, 1, 2), second = WorkerPid(mona, 2, 2);
        mona.Signal(SIGKILL);
        // PR_SET_PDEATHSIG: each worker gets SIGTERM and stops (drainTimeout = 0: at once).
        using var timeout = new CancellationTokenSource(Wait);
        while (IsAlive(first) || IsAlive(second))
            await Task.Delay(20, timeout.Token);
        await Assert.That(IsAlive(first) || IsAlive(second)).IsFalse();
    }

    [Test]
    [Timeout(60_000)]
    public async Task Notify_ReadyOnceEveryWorkerIsReady_StoppingOnSigterm(CancellationToken cancellation)
    {
        using var folder = new TempWww();
        string name = Path.Combine(folder.Root, "notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(name));
        await using Fleet fleet = await StartFleet(2, environment: [new("NOTIFY_SOCKET", name)]);

        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(Wait);
        string ready = Encoding.UTF8.GetString(buffer, 0, await notify.ReceiveAsync(buffer, SocketFlags.None, timeout.Token));
        // One READY=1, from the supervisor (NotifyAccess=main), after both workers.
        await Assert.That(ready).StartsWith("READY=1\n");
        await Assert.That(ready).Contains("with 2 workers");
        await Assert.That(fleet.Mona.Lines.Exists(l => l.Contains("[w1] ApplicationHost.cs") && l.Contains("started"))).IsTrue();
        await Assert.That(fleet.Mona.Lines.Exists(l => l.Contains("[w2] ApplicationHost.cs") && l.Contains("started"))).IsTrue();

        fleet.Mona.Signal(MonaProcess.SIGTERM);
        string stopping = Encoding.UTF8.GetString(buffer, 0, await notify.ReceiveAsync(buffer, SocketFlags.None, timeout.Token));
        await Assert.That(stopping).StartsWith("STOPPING=1\n");
        await Assert.That(await fleet.Mona.WaitForExit(Wait)).IsEqualTo(0);
        // Nothing else came: the workers did not speak to systemd themselves.
        await Assert.That(notify.Available).IsEqualTo(0);
    }

    [Test]
    [Timeout(60_000)]
    public async Task OneWorker_IsOneProcess_AsWithoutTheKey(CancellationToken cancellation)
    {
        await using Fleet fleet = await StartFleet(1);
        await Assert.That(ChildrenOf(fleet.Mona.Id).Count).IsEqualTo(0);
        await fleet.Mona.WaitForLine("main.lua[1] worker 1 of 1", Wait);
        await Assert.That(fleet.Mona.Lines.Exists(l => l.Contains("[w1]"))).IsFalse();
        (int worker, Socket socket) = await Ping(fleet.TcpPort);
        socket.Dispose();
        await Assert.That(worker).IsEqualTo(1);
    }

    [Test]
    [Timeout(30_000)]
    [Arguments("0")]
    [Arguments("-1")]
    [Arguments("two")]
    [Arguments("257")]
    public async Task Workers_Invalid_ExitsWithOneLine(string value, CancellationToken cancellation)
    {
        using var www = new TempWww();
        www.WriteApp("", "NOTE('ran')");
        (int code, string output, string error) = await MonaProcess.RunToEnd(Wait, "--config", www.WriteIni($"[server]\nworkers = {value}\n"), www.Www);
        await Assert.That(code).IsEqualTo(2);
        await Assert.That(error).Contains("server.workers must be auto or an integer from 1 to 256");
        await Assert.That(error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length).IsEqualTo(1);
        await Assert.That(output).DoesNotContain("ran");
    }

    [Test]
    [Timeout(30_000)]
    public async Task WorkerVariable_Malformed_ExitsWithOneLine(CancellationToken cancellation)
    {
        using var www = new TempWww();
        www.WriteApp("", "NOTE('ran')");
        await using MonaProcess mona = MonaProcess.StartBinary([new("MONAAOT_WORKER", "3/2")], MonaProcess.BinaryPath, "--config", www.WriteIni(""), www.Www);
        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(2);
        await Assert.That(string.Join("\n", mona.ErrorLines)).Contains("MONAAOT_WORKER='3/2' is malformed");
        await Assert.That(mona.ErrorLines.Count).IsEqualTo(1);
    }

    [Test]
    [Timeout(60_000)]
    public async Task WorkerThatRefusesItsConfiguration_StopsTheSupervisor_InsteadOfRestartingForever(CancellationToken cancellation)
    {
        // [metrics] on a port already taken: each worker refuses to start (exit 2) before it is
        // ready, which a restart would not change.
        using Socket taken = TcpApp.Listen(out int port);
        using var www = new TempWww();
        www.WriteApp("", "NOTE('ran')");
        await using MonaProcess mona = MonaProcess.Start("--config", www.WriteIni($"[server]\nworkers = 2\n[metrics]\nport = {port}\n"), www.Www);
        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(2);
        await Assert.That(mona.Lines.Exists(l => l.Contains("before it was ready: stopping"))).IsTrue();
        await Assert.That(mona.Lines.Exists(l => l.Contains("restarting in"))).IsFalse();
    }

    [Test]
    [Timeout(60_000)]
    public async Task WorkerWhoseChildHoldsItsOutput_IsStillRestartedAtOnce_AndTheStopDoesNotWaitForTheChild(CancellationToken cancellation)
    {
        // Worker 1 leaves a process behind that inherited its standard output and error (the
        // pipes to the supervisor) and outlives it by far.
        using var www = new TempWww();
        www.WriteApp("", "if mona.worker == 1 then os.execute('sleep 12 &') end\nNOTE('worker ', mona.worker, ' of ', mona.workers)");
        await using MonaProcess mona = MonaProcess.Start("--config", www.WriteIni("[server]\nworkers = 2\ndrainTimeout = 0\n"), www.Www);
        await mona.WaitForLine("2 workers ready", Wait);
        int victim = WorkerPid(mona, 1, 2);
        int mark = mona.Lines.Count;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Assert.That(MonaProcess.Signal(victim, SIGKILL)).IsTrue();
        await mona.WaitForLine("worker 1/2 (pid " + victim + ") was killed by signal 9", Wait, mark);
        await mona.WaitForLine("[w1] main.lua[2] worker 1 of 2", Wait, mark);
        // Well before the child ends (12 s): the supervisor waits for a dead worker's output
        // 2 s at most.
        await Assert.That(clock.Elapsed).IsLessThan(TimeSpan.FromSeconds(8));

        clock.Restart();
        mona.Signal(MonaProcess.SIGTERM);
        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(0);
        await Assert.That(clock.Elapsed).IsLessThan(TimeSpan.FromSeconds(8));
    }

    [Test]
    [Timeout(60_000)]
    public async Task WorkerThatCannotBeStartedAgain_IsTriedAgain_UntilItStarts(CancellationToken cancellation)
    {
        // The executable disappears for a while (a package upgrade replacing it, say) just as a
        // worker dies.
        using var www = new TempWww();
        www.WriteApp("", "NOTE('worker ', mona.worker, ' of ', mona.workers)");
        string binary = Path.Combine(www.Root, "monaaot"), aside = binary + ".aside";
        File.Copy(MonaProcess.BinaryPath, binary);
        await using MonaProcess mona = MonaProcess.StartBinary(null, binary, "--config", www.WriteIni("[server]\nworkers = 2\ndrainTimeout = 0\n"), www.Www);
        await mona.WaitForLine("2 workers ready", Wait);
        int victim = WorkerPid(mona, 1, 2);
        int mark = mona.Lines.Count;
        File.Move(binary, aside);
        await Assert.That(MonaProcess.Signal(victim, SIGKILL)).IsTrue();
        await mona.WaitForLine("cannot start worker 1/2", Wait, mark);
        await mona.WaitForLine("worker 1/2: trying again in", Wait, mark);
        File.Move(aside, binary);
        await mona.WaitForLine("[w1] main.lua[1] worker 1 of 2", Wait, mark);
        await Assert.That(ChildrenOf(mona.Id).Count).IsEqualTo(2);
    }
}
