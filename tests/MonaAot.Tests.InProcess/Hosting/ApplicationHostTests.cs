using System.Collections.Generic;
using System.Threading.Tasks;
using MonaAot.Diagnostics;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Hosting;

/// <summary>The applications of a www tree (docs/guide.md, docs/api.md "The application
/// environment") in-process: the host driven directly, each rescan standing for a scanner
/// report.</summary>
public class ApplicationHostTests
{
    private const string Recorder = """
        function onStart(p) INFO("start ", p) end
        function onStop(p) INFO("stop ", p) end
        """;

    [Test]
    public async Task Start_LoadsParentsBeforeChildren()
    {
        using var www = new TempWww();
        www.WriteApp("/b", "INFO('run /b')");
        www.WriteApp("/a/x", "INFO('run /a/x')");
        www.WriteApp("/a", "INFO('run /a')");
        www.WriteApp("", "INFO('run root')");
        using var harness = new HostHarness(www);

        harness.Rescan();

        await Assert.That(harness.Log.MessagesStartingWith("run ")).IsEquivalentTo(new[] { "run root", "run /a", "run /a/x", "run /b" });
    }

    [Test]
    public async Task Environment_ChildInheritsAndOverrides()
    {
        using var www = new TempWww();
        www.WriteApp("", "shared = 'from root'; value = 1");
        www.WriteApp("/a/b", """
            value = 2
            INFO("check ", shared, " ", value, " ", super.value, " ", path, " ", name)
            """);
        using var harness = new HostHarness(www);

        harness.Rescan();

        await Assert.That(harness.Log.MessagesStartingWith("check ")).IsEquivalentTo(new[] { "check from root 2 1 /a/b b" });
    }

    [Test]
    public async Task Environment_RootSuperIsGlobalTable()
    {
        using var www = new TempWww();
        www.WriteApp("", "INFO('check ', super == _G, ' ', path == '', ' ', name == '', ' ', rawget(_G, 'leak'))\nleak = 1");
        using var harness = new HostHarness(www);

        harness.Rescan();

        // 'leak' was set in the root's environment, not in the global table.
        await Assert.That(harness.Log.MessagesStartingWith("check ")).IsEquivalentTo(new[] { "check (true) (true) (true) (null)" });
    }

    [Test]
    public async Task StartAndStop_ChildrenStopBeforeParents()
    {
        using var www = new TempWww();
        www.WriteApp("", Recorder);
        www.WriteApp("/a", "");
        www.WriteApp("/a/b", "");
        var harness = new HostHarness(www);
        harness.Rescan();

        harness.Dispose();

        List<string> events = harness.Log.Messages.FindAll(m => m.StartsWith("start ") || m.StartsWith("stop "));
        await Assert.That(events).IsEquivalentTo(new[] { "start ", "start /a", "start /a/b", "stop /a/b", "stop /a", "stop " });
    }

    [Test]
    public async Task Reload_ChangedFile_StopsClearsRunsAndStarts()
    {
        using var www = new TempWww();
        www.WriteApp("", "version = 1\nonly_in_v1 = true\n" + Recorder);
        using var harness = new HostHarness(www);
        harness.Rescan();

        www.WriteApp("", "version = 2\nINFO('v2 sees only_in_v1=', only_in_v1)\n" + Recorder);
        harness.Rescan();

        List<string> events = harness.Log.Messages.FindAll(m => m.StartsWith("start") || m.StartsWith("stop") || m.StartsWith("v2"));
        await Assert.That(events).IsEquivalentTo(new[] { "start ", "stop ", "v2 sees only_in_v1=(null)", "start " });
    }

    [Test]
    public async Task Reload_ParentKeepsChildInheritance()
    {
        using var www = new TempWww();
        www.WriteApp("", "function greet() return 'v1' end");
        www.WriteApp("/child", "function onManage() INFO('child sees ', greet()) end");
        using var harness = new HostHarness(www);
        harness.Rescan();

        www.WriteApp("", "function greet() return 'version 2' end");
        harness.Rescan();
        harness.Host.Manage();

        await Assert.That(harness.Log.MessagesStartingWith("child sees ")).IsEquivalentTo(new[] { "child sees version 2" });
    }

    /// <summary>Each environment has a mona of its own: the global one's fields read through
    /// it, a field a script adds or changes one field seen by every application, however late
    /// (docs/api.md, "The application environment").</summary>
    [Test]
    public async Task Environment_HasItsOwnMona()
    {
        using var www = new TempWww();
        www.WriteApp("", """
            INFO("root ", mona ~= _G.mona, " ", rawget(_ENV, "mona") == mona, " ", mona.configs == _G.mona.configs, " ", mona.time == _G.mona.time)
            mona.added = 1
            function bump() mona.added = 2 end
            """);
        www.WriteApp("/a", "bump() INFO('child ', mona ~= super.mona, ' ', mona.added, ' ', _G.mona.added, ' ', rawget(mona, 'added'))");
        using var harness = new HostHarness(www);

        harness.Rescan();

        await Assert.That(harness.Log.MessagesStartingWith("root ")).IsEquivalentTo(new[] { "root (true) (true) (true) (true)" });
        await Assert.That(harness.Log.MessagesStartingWith("child ")).IsEquivalentTo(new[] { "child (true) 2 2 (null)" });
    }

    /// <summary>Library code (a chunk of load or require runs in the global table, so it reaches
    /// the global mona) makes objects of the application whose code called it: a reload of that
    /// application closes them.</summary>
    [Test]
    public async Task Ownership_OfLibraryCode_IsTheCallingApplication()
    {
        using var www = new TempWww();
        www.WriteApp("", "function onManage() INFO('armed ', mona:stats().timers) end");
        www.WriteApp("/a", """
            local arm = load("return function() return mona:setTimer(function() end, 100000) end")()
            kept = arm()
            """);
        using var harness = new HostHarness(www);
        harness.Rescan();
        harness.Host.Manage();

        www.WriteApp("/a", "-- v2");
        harness.Rescan();
        harness.Host.Manage();

        await Assert.That(harness.Log.MessagesStartingWith("armed ")).IsEquivalentTo(new[] { "armed 1", "armed 0" });
    }

    /// <summary>An object belongs to the application whose mona made it (docs/api.md,
    /// "Conventions", lifetime), whoever calls the code: a root function called by a child makes
    /// root objects, unless it is given the child's mona; a reload closes exactly the reloaded
    /// application's, across reloads too.</summary>
    [Test]
    public async Task Ownership_FollowsTheMonaThatMadeIt()
    {
        using var www = new TempWww();
        www.WriteApp("", """
            function armForever() return mona:setTimer(function() end, 100000) end
            function armWith(m) return m:setTimer(function() end, 100000) end
            function onManage() INFO("armed ", mona:stats().timers) end
            """);
        www.WriteApp("/a", "mine = mona:setTimer(function() end, 100000)\ntheirs = armForever()\npassed = armWith(mona)");
        using var harness = new HostHarness(www);
        harness.Rescan();
        harness.Host.Manage();

        www.WriteApp("/a", "mona:setTimer(function() end, 100000) mona:setTimer(function() end, 100000)");
        harness.Rescan();
        harness.Host.Manage();
        www.WriteApp("/a", "-- v3");
        harness.Rescan();
        harness.Host.Manage();

        await Assert.That(harness.Log.MessagesStartingWith("armed ")).IsEquivalentTo(new[] { "armed 3", "armed 3", "armed 1" });
    }

    [Test]
    public async Task SyntaxError_IsLoggedWithFileAndLine_OthersRun()
    {
        using var www = new TempWww();
        www.WriteApp("", Recorder);
        www.WriteApp("/broken", "local x = 1\nthis is not lua\n");
        www.WriteApp("/fine", "INFO('fine ran')");
        using var harness = new HostHarness(www);

        harness.Rescan();

        LogEntry error = harness.Log.Entries.Find(e => e.Level == LogLevel.Error);
        await Assert.That(error.File).IsEqualTo("broken/main.lua");
        await Assert.That(error.Line).IsEqualTo(2);
        await Assert.That(harness.Log.Messages).Contains("fine ran");
        await Assert.That(harness.Host.Applications["/broken"].Started).IsFalse();
        await Assert.That(harness.Host.Applications["/fine"].Started).IsTrue();
    }

    [Test]
    public async Task RuntimeError_IsLoggedWithTraceback_AndFixedFileLoads()
    {
        using var www = new TempWww();
        www.WriteApp("/app", "local function f() error('boom') end\nf()\n");
        using var harness = new HostHarness(www);
        harness.Rescan();

        www.WriteApp("/app", "INFO('fixed')");
        harness.Rescan();

        LogEntry error = harness.Log.Entries.Find(e => e.Level == LogLevel.Error);
        await Assert.That(error.File).IsEqualTo("app/main.lua");
        await Assert.That(error.Line).IsEqualTo(1);
        await Assert.That(error.Message).StartsWith("boom");
        await Assert.That(error.Message).Contains("stack traceback:");
        await Assert.That(harness.Log.Messages).Contains("fixed");
        await Assert.That(harness.Host.Applications["/app"].Started).IsTrue();
    }

    [Test]
    public async Task RemovedFile_StopsApplication()
    {
        using var www = new TempWww();
        www.WriteApp("", Recorder);
        string child = www.WriteApp("/gone", "");
        using var harness = new HostHarness(www);
        harness.Rescan();

        System.IO.File.Delete(child);
        harness.Rescan();

        await Assert.That(harness.Log.Messages).Contains("stop /gone");
        await Assert.That(harness.Host.Applications["/gone"].Started).IsFalse();
    }

    [Test]
    public async Task ErrorInOnStart_IsLogged_ApplicationStillStops()
    {
        using var www = new TempWww();
        www.WriteApp("", "function onStart() error('bad start') end\nfunction onStop() INFO('stopped anyway') end");
        var harness = new HostHarness(www);
        harness.Rescan();

        harness.Dispose();

        await Assert.That(harness.Log.Entries.Exists(e => e.Level == LogLevel.Error && e.Message.StartsWith("bad start"))).IsTrue();
        await Assert.That(harness.Log.Messages).Contains("stopped anyway");
    }

    [Test]
    public async Task Configs_FlatAndNestedAndTyped()
    {
        using var www = new TempWww();
        www.WriteApp("", """
            local c = mona.configs
            INFO("cfg ", c["smtp.port"], " ", math.type(c.smtp.port), " ", c.smtp.host, " ", c["flag"], " ",
                 math.type(c.ratio), " ", c.ratio, " ", c.text)
            """);
        using var harness = new HostHarness(www, ini: "flag=true\nratio=0.5\ntext=hello world\n[smtp]\nport=25\nhost=mail.local\n");

        harness.Rescan();

        await Assert.That(harness.Log.MessagesStartingWith("cfg ")).IsEquivalentTo(new[] { "cfg 25 integer mail.local (true) float 0.5 hello world" });
    }

    [Test]
    public async Task MonaObject_TimeAbsolutePathEnvironment()
    {
        using var www = new TempWww();
        www.WriteApp("", """
            INFO("abs ", mona:absolutePath("/a/b"), " ", mona:absolutePath(""))
            INFO("time ", math.type(mona:time()), " ", mona:time() > 1700000000000)
            INFO("env ", type(mona.environment), " ", mona.environment.PATH ~= nil)
            INFO("err ", select(2, pcall(function() return mona:absolutePath(nil) end)))
            """);
        using var harness = new HostHarness(www);

        harness.Rescan();

        List<string> messages = harness.Log.Messages;
        await Assert.That(messages).Contains($"abs {www.Www}/a/b/ {www.Www}/");
        await Assert.That(messages).Contains("time integer (true)");
        await Assert.That(messages).Contains("env table (true)");
        await Assert.That(messages).Contains("err main.lua:4: bad argument #1 to 'absolutePath' (string expected, got nil)");
    }

    [Test]
    public async Task LogFunctions_FormatAndRecordScriptLine()
    {
        using var www = new TempWww();
        www.WriteApp("/app", "\n\nWARN('a', 1, nil, false, 2.5, setmetatable({}, {__tostring = function() return 'T' end}))\n");
        using var harness = new HostHarness(www);

        harness.Rescan();

        LogEntry entry = harness.Log.Entries.Find(e => e.Level == LogLevel.Warn);
        await Assert.That(entry.Message).IsEqualTo("a1(null)(false)2.5T");
        await Assert.That(entry.File).IsEqualTo("app/main.lua");
        await Assert.That(entry.Line).IsEqualTo(3);
    }

    [Test]
    public async Task LogFunctions_EveryLevelFiltersByLoggerLevel()
    {
        using var www = new TempWww();
        www.WriteApp("", "FATAL('f') CRITIC('c') ERROR('e') WARN('w') NOTE('n') INFO('i') DEBUG('d') TRACE('t')");
        using var harness = new HostHarness(www, level: LogLevel.Warn);

        harness.Rescan();

        await Assert.That(harness.Log.Messages).IsEquivalentTo(new[] { "f", "c", "e", "w" });
    }

    [Test]
    public async Task LogFunctions_ToStringError_RaisesInScript()
    {
        using var www = new TempWww();
        www.WriteApp("", "local ok, e = pcall(INFO, setmetatable({}, {__tostring = function() error('no text') end}))\nNOTE('caught ', e)");
        using var harness = new HostHarness(www);

        harness.Rescan();

        await Assert.That(harness.Log.MessagesStartingWith("caught ")[0]).Contains("no text");
    }
}
