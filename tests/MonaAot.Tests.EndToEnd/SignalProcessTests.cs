using System;
using System.IO;
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

/// <summary>The signals of docs/api.md, "Signals and shutdown", on the published binary:
/// SIGINT/SIGTERM interrupt a script call that never ends, a second one ends a stuck shutdown,
/// SIGHUP reopens logs and reloads.</summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class SignalProcessTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private const int SIGHUP = 1;

    // A TCP echo server whose handler loops forever on command; onStart/onStop are inherited
    // by the child application /a, so each stop and start shows up once per application.
    private const string Root = """
        function onStart(p) NOTE('start [', p, ']') end
        function onStop(p) NOTE('stop [', p, ']') end
        local server = mona:createTCPServer()
        function server:onConnection(client)
          function client:onReception(data)
            if data == "loop" then NOTE('looping'); while true do end end
            if data == "stubborn" then NOTE('looping'); while true do pcall(function() while true do end end) end end
            self:send(data)
          end
        end
        assert(server:start("127.0.0.1", 0))
        NOTE("port ", server.port)
        """;

    private static async Task<string> Echo(Socket socket, string text)
    {
        await socket.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None);
        return Encoding.ASCII.GetString(await TcpApp.ReadExactly(socket, text.Length));
    }

    private static async Task<int> PortAfter(MonaProcess mona, int from)
    {
        string line = await mona.WaitForLineText("port ", Wait, from);
        return int.Parse(line[(line.LastIndexOf("port ", StringComparison.Ordinal) + 5)..]);
    }

    [Test]
    [Timeout(60_000)]
    [Arguments("loop", MonaProcess.SIGTERM, "SIGTERM", "", 6)]
    [Arguments("loop", MonaProcess.SIGINT, "SIGINT", "", 6)]
    [Arguments("stubborn", MonaProcess.SIGTERM, "SIGTERM", "", 7)]
    [Arguments("loop", MonaProcess.SIGTERM, "SIGTERM", "[lua]\nhandlerTimeout=600\n", 6)]
    public async Task StopSignal_InterruptsAnEndlessHandler_ThenStopsCleanly(
        string command, int signal, string name, string ini, int line, CancellationToken cancellation)
    {
        using var www = new TempWww();
        www.WriteApp("", Root);
        www.WriteApp("/a", "");
        await using MonaProcess mona = MonaProcess.Start("--config", www.WriteIni(ini), www.Www);
        using Socket socket = await TcpApp.Connect(await PortAfter(mona, 0));
        await socket.SendAsync(Encoding.ASCII.GetBytes(command), SocketFlags.None, cancellation);
        int looping = await mona.WaitForLine("looping", Wait);

        mona.Signal(signal);

        string error = await mona.WaitForLineText($"interrupted by {name}", Wait, looping);
        await Assert.That(error).Contains($"ERROR  main.lua[{line}] interrupted by {name}");
        await mona.WaitForLine("stack traceback:", Wait, looping);
        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(0);
        string output = string.Join("\n", mona.Lines);
        int child = output.IndexOf("stop [/a]", StringComparison.Ordinal);
        await Assert.That(child).IsGreaterThan(output.IndexOf($"interrupted by {name}", StringComparison.Ordinal));
        await Assert.That(output.IndexOf("stop []", StringComparison.Ordinal)).IsGreaterThan(child);
    }

    [Test]
    [Timeout(60_000)]
    public async Task SecondStopSignal_WhileOnStopLoops_ExitsOneAtOnce(CancellationToken cancellation)
    {
        using var www = new TempWww();
        www.WriteApp("", "function onStop() NOTE('stopping forever') while true do end end");
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        await mona.WaitForLine("Application '/' started", Wait);

        mona.Signal(MonaProcess.SIGTERM);
        int stopping = await mona.WaitForLine("stopping forever", Wait);
        mona.Signal(MonaProcess.SIGINT);

        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(1);
        await mona.WaitForLine("SIGINT received while stopping, exiting now (code 1)", Wait, stopping);
    }

    [Test]
    [Timeout(60_000)]
    public async Task SecondStopSignal_AfterAnInterruptedHandler_WhileOnStopLoops_ExitsOne(CancellationToken cancellation)
    {
        using var www = new TempWww();
        www.WriteApp("", Root.Replace("function onStop(p) NOTE('stop [', p, ']') end",
            "function onStop(p) NOTE('stop [', p, ']') while true do end end"));
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        using Socket socket = await TcpApp.Connect(await PortAfter(mona, 0));
        await socket.SendAsync(Encoding.ASCII.GetBytes("loop"), SocketFlags.None, cancellation);
        await mona.WaitForLine("looping", Wait);

        mona.Signal(MonaProcess.SIGTERM);
        int interrupted = await mona.WaitForLine("interrupted by SIGTERM", Wait);
        await mona.WaitForLine("stop []", Wait, interrupted); // onStop runs, and loops in turn
        mona.Signal(MonaProcess.SIGTERM);

        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(1);
        await Assert.That(string.Join("\n", mona.Lines)).Contains("SIGTERM received while stopping, exiting now (code 1)");
    }

    [Test]
    [Timeout(60_000)]
    public async Task Sighup_ReloadsEveryApplication_AndKeepsServing(CancellationToken cancellation)
    {
        using var www = new TempWww();
        www.WriteApp("", Root);
        www.WriteApp("/a", "");
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        int started = await mona.WaitForLine("start [/a]", Wait);

        mona.Signal(SIGHUP);

        int hup = await mona.WaitForLine("SIGHUP received", Wait, started);
        int child = await mona.WaitForLine("stop [/a]", Wait, hup);
        int root = await mona.WaitForLine("stop []", Wait, child);
        int port = await PortAfter(mona, root); // main.lua ran again
        int rootStart = await mona.WaitForLine("start []", Wait, root);
        await mona.WaitForLine("start [/a]", Wait, rootStart);
        await Assert.That(port).IsNotEqualTo(0);
        using Socket socket = await TcpApp.Connect(port);
        await Assert.That(await Echo(socket, "still serving")).IsEqualTo("still serving");

        mona.Signal(MonaProcess.SIGTERM);
        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(0);
    }

    [Test]
    [Timeout(60_000)]
    public async Task Sighup_ReopensTheLogFile_SoARenamedOneStopsGrowing(CancellationToken cancellation)
    {
        using var www = new TempWww();
        string logs = Path.Combine(www.Root, "logs");
        // A line reaches standard output before the log file (the console sink comes first), so
        // the file is read once the line after it is out: by then its file write is done.
        www.WriteApp("", "function onStart() NOTE('up') NOTE('then') end");
        await using MonaProcess mona = MonaProcess.Start("--config", www.WriteIni($"[logs]\ndirectory={logs}\n"), www.Www);
        int up = await mona.WaitForLine("main.lua[1] then", Wait);
        string current = Path.Combine(logs, "log.0");
        string rotated = Path.Combine(logs, "log.0.rotated");
        await Assert.That(File.ReadAllText(current)).Contains("main.lua[1] up");
        File.Move(current, rotated); // what logrotate does before its postrotate kill -HUP

        mona.Signal(SIGHUP);

        // The next start's line is logged after the SIGHUP line, whose file write came first.
        await mona.WaitForLine("main.lua[1] then", Wait, up + 1);
        await Assert.That(File.Exists(current)).IsTrue();
        string fresh = File.ReadAllText(current);
        await Assert.That(fresh).Contains("SIGHUP received, log files reopened");
        await Assert.That(fresh).Contains("main.lua[1] up");
        await Assert.That(File.ReadAllText(rotated)).DoesNotContain("SIGHUP");

        mona.Signal(MonaProcess.SIGTERM);
        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(0);
    }
}
