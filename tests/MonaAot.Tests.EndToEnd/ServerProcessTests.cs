using System;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.EndToEnd;

/// <summary>The published out/monaaot as a child process on a temporary www folder.</summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class ServerProcessTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    [Test]
    public async Task Start_ServesWwwAndLogsStart()
    {
        using var www = new TempWww();
        www.WriteApp("", "function onStart(p) NOTE('root up') end");
        await using MonaProcess mona = MonaProcess.Start(www.Www);

        await mona.WaitForLine($"serving {www.Www}", Wait);
        await mona.WaitForLine("NOTE   main.lua[1] root up", Wait);
    }

    [Test]
    public async Task Sigterm_StopsChildrenBeforeParents_ExitsZero()
    {
        using var www = new TempWww();
        www.WriteApp("", "function onStart(p) NOTE('start [', p, ']') end\nfunction onStop(p) NOTE('stop [', p, ']') end");
        www.WriteApp("/a", "");
        www.WriteApp("/a/b", "");
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        await mona.WaitForLine("start [/a/b]", Wait);

        mona.Signal(MonaProcess.SIGTERM);
        int code = await mona.WaitForExit(Wait);

        await Assert.That(code).IsEqualTo(0);
        string output = string.Join("\n", mona.Lines);
        int b = output.IndexOf("stop [/a/b]", StringComparison.Ordinal);
        int a = output.IndexOf("stop [/a]", StringComparison.Ordinal);
        int root = output.IndexOf("stop []", StringComparison.Ordinal);
        await Assert.That(b).IsGreaterThan(0);
        await Assert.That(a).IsGreaterThan(b);
        await Assert.That(root).IsGreaterThan(a);
    }

    [Test]
    public async Task Sigint_AlsoStopsCleanly()
    {
        using var www = new TempWww();
        www.WriteApp("", "function onStop() NOTE('bye') end");
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        await mona.WaitForLine("Application '/' started", Wait);

        mona.Signal(MonaProcess.SIGINT);

        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(0);
        await Assert.That(string.Join("\n", mona.Lines)).Contains("bye");
    }

    [Test]
    public async Task Reload_ChangedFileIsReloadedLive()
    {
        using var www = new TempWww();
        www.WriteApp("/app", "function onStart() NOTE('version 1') end\nfunction onStop() NOTE('stopping 1') end");
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        int started = await mona.WaitForLine("version 1", Wait);

        www.WriteApp("/app", "function onStart() NOTE('version 2') end");

        int stopped = await mona.WaitForLine("stopping 1", Wait, started);
        await mona.WaitForLine("version 2", Wait, stopped);
    }

    [Test]
    public async Task BrokenApplication_IsIsolated_AndLoadsOnceFixed()
    {
        using var www = new TempWww();
        www.WriteApp("", "function onManage() NOTE('root manages') end");
        www.WriteApp("/broken", "x = = 1");
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        int error = await mona.WaitForLine("ERROR  broken/main.lua[1]", Wait);
        await mona.WaitForLine("root manages", Wait, error);

        www.WriteApp("/broken", "NOTE('repaired')");

        await mona.WaitForLine("repaired", Wait, error);
    }

    [Test]
    public async Task NewApplication_AppearingLater_IsLoaded()
    {
        using var www = new TempWww();
        www.WriteApp("", "");
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        int started = await mona.WaitForLine("Application '/' started", Wait);

        www.WriteApp("/late", "NOTE('late arrival, path ', path)");

        await mona.WaitForLine("late arrival, path /late", Wait, started);
    }

    /// <summary>Idle memory (docs/performance.md, "Memory at start"): once the www watcher has
    /// run (a rewrite it reported), the process has its own threads only, the watcher's among
    /// them, and none of the thread pool's or the runtime's timer thread; and its VmRSS stays
    /// under 7 MiB (about 5.7 MiB measured; 7.5 MiB before the start-up work).</summary>
    [Test]
    public async Task Idle_NoThreadPool_AndSmallRss()
    {
        Skip.When(Runner.IsSet, Runner.SkipReason("threads and VmRSS are the emulator's, not the binary's"));
        using var www = new TempWww();
        www.WriteApp("/app", "function onStart() NOTE('version 1') end");
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        int started = await mona.WaitForLine("version 1", Wait);
        www.WriteApp("/app", "function onStart() NOTE('version 2') end");
        await mona.WaitForLine("version 2", Wait, started);

        string[] threads = Directory.GetDirectories($"/proc/{mona.Id}/task")
            .Select(task => File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n')).ToArray();
        string names = string.Join(", ", threads);
        await Assert.That(threads).Contains("www watcher").Because(names);
        await Assert.That(threads.Any(name => name.StartsWith(".NET TP", StringComparison.Ordinal) || name == ".NET Timer"))
            .IsFalse().Because(names);
        long rssKb = long.Parse(File.ReadLines($"/proc/{mona.Id}/status").First(line => line.StartsWith("VmRSS:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        await Assert.That(rssKb).IsLessThan(7 * 1024).Because($"VmRSS is {rssKb} KiB");
    }

    [Test]
    public async Task OnManage_TicksRepeatedly()
    {
        using var www = new TempWww();
        www.WriteApp("", "n = 0\nfunction onManage() n = n + 1; NOTE('tick ', n) end");
        await using MonaProcess mona = MonaProcess.Start(www.Www);

        await mona.WaitForLine("tick 2", TimeSpan.FromSeconds(20));
    }

    [Test]
    public async Task LogLevel_FiltersScriptLogs_PrintAlwaysShown()
    {
        using var www = new TempWww();
        www.WriteApp("", "INFO('hidden info')\nWARN('shown warn')\nprint('plain print')\nfunction onStart() ERROR('ready') end");
        await using MonaProcess mona = MonaProcess.Start("--log=4", www.Www);

        await mona.WaitForLine("ready", Wait);

        string output = string.Join("\n", mona.Lines);
        await Assert.That(output).Contains("plain print");
        await Assert.That(output).Contains("shown warn");
        await Assert.That(output).DoesNotContain("hidden info");
    }

    [Test]
    public async Task Ini_ConfigsReachScripts_AndLogFilesRotate()
    {
        using var www = new TempWww();
        string logs = Path.Combine(www.Root, "logs");
        string ini = www.WriteIni($"greeting = hello\n[logs]\ndirectory={logs}\nmaxSize=2048\nrotation=3\n");
        www.WriteApp("", """
            NOTE('greeting ', mona.configs.greeting)
            for i = 1, 200 do INFO(string.rep('x', 40), i) end
            NOTE('filled')
            """);
        await using MonaProcess mona = MonaProcess.Start("--config", ini, www.Www);

        await mona.WaitForLine("greeting hello", Wait);
        await mona.WaitForLine("filled", Wait);

        string[] files = Directory.GetFiles(logs);
        Array.Sort(files, StringComparer.Ordinal);
        await Assert.That(files.Length).IsEqualTo(3);
        await Assert.That(Path.GetFileName(files[0])).IsEqualTo("log.0");
        foreach (string file in files)
            await Assert.That(new FileInfo(file).Length).IsLessThanOrEqualTo(2048);
        await Assert.That(File.ReadAllText(Path.Combine(logs, "log.0"))).Contains("filled");
    }

    [Test]
    public async Task DefaultIni_BesideExecutable_IsNotRequired()
    {
        // A copy of the binary in a folder with no monaaot.ini (out/ has one).
        using var www = new TempWww();
        string binary = Path.Combine(www.Root, "monaaot");
        File.Copy(MonaProcess.BinaryPath, binary);
        www.WriteApp("", "NOTE('smtp port is ', mona.configs['smtp.port'])");
        await using MonaProcess mona = MonaProcess.StartBinary(null, binary, www.Www);

        await mona.WaitForLine("smtp port is (null)", Wait);
    }
}
