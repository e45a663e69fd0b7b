using System.IO;
using System.Threading.Tasks;
using MonaAot.Diagnostics;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Hosting;

/// <summary>require per application (docs/api.md, "require"; docs/architecture.md, "Modules"):
/// the host driven directly, <c>CheckModules</c> standing for the watcher's report.</summary>
public class RequireTests
{
    [Test]
    public async Task Require_FindsModuleBesideMainLua()
    {
        using var www = new TempWww();
        www.WriteFile("a/util.lua", "local M = {} function M.twice(x) return 2 * x end return M");
        www.WriteApp("/a", "local util = require 'util' INFO('check ', util.twice(21))");
        using var harness = new HostHarness(www);

        harness.Rescan();

        await Assert.That(harness.Log.MessagesStartingWith("check ")).IsEquivalentTo(new[] { "check 42" });
    }

    [Test]
    public async Task Require_FindsParentsModules_DottedNames_AndInitLua()
    {
        using var www = new TempWww();
        www.WriteFile("shared.lua", "return 'root'");
        www.WriteFile("a/lib/deep.lua", "return 'a/lib'");
        www.WriteFile("a/b/pkg/init.lua", "return 'init'");
        www.WriteApp("/a/b", "INFO('check ', (require 'shared'), ' ', (require 'lib.deep'), ' ', (require 'pkg'))");
        using var harness = new HostHarness(www);

        harness.Rescan();

        await Assert.That(harness.Log.MessagesStartingWith("check ")).IsEquivalentTo(new[] { "check root a/lib init" });
    }

    [Test]
    public async Task Require_TwoApplications_EachGetTheirOwnModule()
    {
        using var www = new TempWww();
        www.WriteFile("util.lua", "return 'root'");
        www.WriteFile("a/util.lua", "return 'A'");
        www.WriteFile("b/util.lua", "return 'B'");
        www.WriteApp("/a", "INFO('a ', (require 'util'))");
        www.WriteApp("/b", "INFO('b ', (require 'util'))");
        www.WriteApp("/c", "INFO('c ', (require 'util'))");
        using var harness = new HostHarness(www);

        harness.Rescan();

        await Assert.That(harness.Log.MessagesStartingWith("a ")).IsEquivalentTo(new[] { "a A" });
        await Assert.That(harness.Log.MessagesStartingWith("b ")).IsEquivalentTo(new[] { "b B" });
        await Assert.That(harness.Log.MessagesStartingWith("c ")).IsEquivalentTo(new[] { "c root" });
    }

    [Test]
    public async Task Require_Twice_SameValue_LoadedOnce_PerApplication()
    {
        using var www = new TempWww();
        www.WriteFile("counted.lua", "INFO('loading counted in ', path) return {}");
        www.WriteApp("/a", "local one, file = require 'counted' local two = require 'counted' INFO('check ', one == two, ' ', package.loaded.counted == one, ' ', file:sub(-11))");
        www.WriteApp("/b", "require 'counted'");
        using var harness = new HostHarness(www);

        harness.Rescan();

        await Assert.That(harness.Log.MessagesStartingWith("check ")).IsEquivalentTo(new[] { "check (true) (true) counted.lua" });
        await Assert.That(harness.Log.MessagesStartingWith("loading counted")).IsEquivalentTo(new[] { "loading counted in /a", "loading counted in /b" });
    }

    [Test]
    public async Task Module_RunsInItsApplicationsEnvironment()
    {
        using var www = new TempWww();
        www.WriteFile("a/m.lua", "leak = 'in a' return { mona = mona, env = _ENV }");
        www.WriteApp("/a", "local m = require 'm' INFO('a ', leak, ' ', rawget(_G, 'leak'), ' ', m.mona == mona, ' ', m.env == _ENV)");
        www.WriteApp("/b", "INFO('b ', leak)");
        using var harness = new HostHarness(www);

        harness.Rescan();

        await Assert.That(harness.Log.MessagesStartingWith("a ")).IsEquivalentTo(new[] { "a in a (null) (true) (true)" });
        await Assert.That(harness.Log.MessagesStartingWith("b ")).IsEquivalentTo(new[] { "b (null)" });
    }

    /// <summary>A module of the parent's folder, run in each requiring application's
    /// environment: what it makes belongs to that application, and goes with its reload.</summary>
    [Test]
    public async Task Module_ObjectsBelongToTheRequiringApplication()
    {
        using var www = new TempWww();
        www.WriteFile("arm.lua", "return function() return mona:setTimer(function() end, 100000) end");
        www.WriteApp("", "function onManage() INFO('armed ', mona:stats().timers) end");
        www.WriteApp("/a", "kept = require 'arm' ()");
        www.WriteApp("/b", "kept = require 'arm' ()");
        using var harness = new HostHarness(www);
        harness.Rescan();
        harness.Host.Manage();

        www.WriteApp("/a", "-- v2");
        harness.Rescan();
        harness.Host.Manage();
        www.WriteApp("/b", "-- v2");
        harness.Rescan();
        harness.Host.Manage();

        await Assert.That(harness.Log.MessagesStartingWith("armed ")).IsEquivalentTo(new[] { "armed 2", "armed 1", "armed 0" });
    }

    [Test]
    public async Task StandardLibrary_StillRequired()
    {
        using var www = new TempWww();
        www.WriteFile("string.lua", "error('never loaded')");
        www.WriteApp("", "INFO('check ', require 'string' == string, ' ', require 'table' == table, ' ', package.path == _G.package.path)");
        using var harness = new HostHarness(www);

        harness.Rescan();

        await Assert.That(harness.Log.MessagesStartingWith("check ")).IsEquivalentTo(new[] { "check (true) (true) (true)" });
    }

    [Test]
    public async Task ChangedModule_ReloadsEveryApplicationThatRequiredIt()
    {
        using var www = new TempWww();
        www.WriteFile("shared.lua", "return 1");
        www.WriteApp("/a", "function onStart() INFO('a has ', (require 'shared')) end");
        www.WriteApp("/b", "function onStart() INFO('b has ', (require 'shared')) end");
        www.WriteApp("/c", "INFO('c runs')");
        using var harness = new HostHarness(www);
        harness.Rescan();
        harness.Host.CheckModules();

        www.WriteFile("shared.lua", "return 2");
        harness.Host.CheckModules();

        await Assert.That(harness.Log.MessagesStartingWith("a has ")).IsEquivalentTo(new[] { "a has 1", "a has 2" });
        await Assert.That(harness.Log.MessagesStartingWith("b has ")).IsEquivalentTo(new[] { "b has 1", "b has 2" });
        await Assert.That(harness.Log.MessagesStartingWith("c runs")).Count().IsEqualTo(1);
        await Assert.That(harness.Log.Messages).Contains("Application '/a' changed (shared.lua), reloading");
    }

    [Test]
    public async Task AddedModule_NearerThanTheOneFound_Reloads()
    {
        using var www = new TempWww();
        www.WriteFile("util.lua", "return 'root'");
        www.WriteApp("/a", "INFO('a has ', (require 'util'))");
        using var harness = new HostHarness(www);
        harness.Rescan();

        www.WriteFile("a/util.lua", "return 'mine'");
        harness.Host.CheckModules();
        File.Delete(Path.Combine(www.Www, "a", "util.lua"));
        harness.Host.CheckModules();

        await Assert.That(harness.Log.MessagesStartingWith("a has ")).IsEquivalentTo(new[] { "a has root", "a has mine", "a has root" });
    }

    [Test]
    public async Task SyntaxError_LoggedWithFileAndLine_RaisedInTheCaller()
    {
        using var www = new TempWww();
        www.WriteFile("a/bad.lua", "local x = 1\nx = = 2");
        www.WriteApp("/a", "local ok, e = pcall(function()\n  local m = require 'bad'\n  return m\nend)\nINFO('check ', e)");
        www.WriteApp("/b", "require 'nothing'\nrequire 'bad'"); // not found, then never reached
        www.WriteApp("/c", "INFO('c runs')");
        using var harness = new HostHarness(www);

        harness.Rescan();

        LogEntry error = harness.Log.Entries.Find(e => e.Level == LogLevel.Error && e.File == "a/bad.lua");
        await Assert.That(error.Line).IsEqualTo(2);
        await Assert.That(error.Message).Contains("unexpected symbol near '='");
        string raised = harness.Log.MessagesStartingWith("check ")[0];
        await Assert.That(raised).StartsWith("check a/main.lua:2: error loading module 'bad' from file 'a/bad.lua':\n\ta/bad.lua:2: ");
        await Assert.That(harness.Log.MessagesStartingWith("c runs")).Count().IsEqualTo(1);
    }

    [Test]
    public async Task RuntimeError_LoggedWithTraceback_ApplicationFailsAlone()
    {
        using var www = new TempWww();
        www.WriteFile("a/boom.lua", "local M = {}\nerror('boom')\nreturn M");
        www.WriteApp("/a", "\nrequire 'boom'\nINFO('never')");
        www.WriteApp("/c", "INFO('c runs')");
        using var harness = new HostHarness(www);

        harness.Rescan();

        LogEntry moduleError = harness.Log.Entries.Find(e => e.Level == LogLevel.Error && e.File == "a/boom.lua");
        await Assert.That(moduleError.Line).IsEqualTo(2);
        await Assert.That(moduleError.Message).StartsWith("boom\nstack traceback:");
        LogEntry mainError = harness.Log.Entries.Find(e => e.Level == LogLevel.Error && e.File == "a/main.lua");
        await Assert.That(mainError.Line).IsEqualTo(2);
        await Assert.That(mainError.Message).StartsWith("error running module 'boom' from file 'a/boom.lua':\n\ta/boom.lua:2: boom");
        await Assert.That(harness.Log.MessagesStartingWith("never")).IsEmpty();
        await Assert.That(harness.Log.MessagesStartingWith("c runs")).Count().IsEqualTo(1);
    }

    [Test]
    public async Task RepairedModule_LoadsTheApplication()
    {
        using var www = new TempWww();
        www.WriteFile("a/m.lua", "return = 1");
        www.WriteApp("/a", "INFO('a has ', (require 'm'))");
        using var harness = new HostHarness(www);
        harness.Rescan();

        www.WriteFile("a/m.lua", "return 'fixed'");
        harness.Host.CheckModules();

        await Assert.That(harness.Log.MessagesStartingWith("a has ")).IsEquivalentTo(new[] { "a has fixed" });
    }

    [Test]
    public async Task MissingModule_ListsThePlacesLookedAt()
    {
        using var www = new TempWww();
        www.WriteApp("/a", "local ok, e = pcall(function() local m = require 'no.such' return m end) INFO('check ', e)");
        using var harness = new HostHarness(www);

        harness.Rescan();

        string message = harness.Log.MessagesStartingWith("check ")[0];
        await Assert.That(message).StartsWith("check a/main.lua:1: module 'no.such' not found:\n\tno file 'a/no/such.lua'\n\tno file 'a/no/such/init.lua'\n\tno file 'no/such.lua'\n\tno file 'no/such/init.lua'\n\tno field package.preload['no.such']");
    }

    /// <summary>A name that reads as an absolute path is still looked for inside www.</summary>
    [Test]
    public async Task AbsoluteName_DoesNotLeaveWww()
    {
        using var www = new TempWww();
        string outside = Path.Combine(www.Root, "outside");
        File.WriteAllText(outside + ".lua", "return 'escaped'");
        www.WriteApp("", $$"""
            local ok, e = pcall(function() local m = require [[{{outside}}]] return m end)
            INFO('check ', ok, ' ', e:match('^[^\n]*'))
            """);
        using var harness = new HostHarness(www);

        harness.Rescan();

        await Assert.That(harness.Log.MessagesStartingWith("check ")).IsEquivalentTo(new[] { $"check (false) main.lua:1: module '{outside}' not found:" });
    }

    /// <summary>A name with a NUL is no file's name: not found, and never the file the name
    /// would be cut short to ("cfg": a C stat stops at the NUL).</summary>
    [Test]
    public async Task NameWithANul_IsNotFound_Readably()
    {
        using var www = new TempWww();
        File.WriteAllText(Path.Combine(www.Root, "cfg"), "return 'wrong file'");
        www.WriteApp("", """
            local ok, e = pcall(function() return require "cfg\0" end)
            INFO('check ', ok, ' ', e:find("not found", 1, true) ~= nil, ' ', e:find("wrong file", 1, true) == nil)
            """);
        using var harness = new HostHarness(www);

        harness.Rescan();

        await Assert.That(string.Join("|", harness.Log.MessagesStartingWith("check "))).IsEqualTo("check (false) (true) (true)");
    }

    [Test]
    public async Task RequireLoop_IsAnError()
    {
        using var www = new TempWww();
        www.WriteFile("x.lua", "return require 'y'");
        www.WriteFile("y.lua", "return require 'x'");
        www.WriteApp("", "local ok, e = pcall(function() local m = require 'x' return m end) INFO('check ', e:match('^[^\\n]*'))");
        using var harness = new HostHarness(www);

        harness.Rescan();

        await Assert.That(harness.Log.MessagesStartingWith("check ")[0]).IsEqualTo("check main.lua:1: error running module 'x' from file 'x.lua':");
    }

    [Test]
    public async Task WrongArgument_IsALuaError()
    {
        using var www = new TempWww();
        www.WriteApp("", "local ok, e = pcall(function() local m = require({}) return m end) INFO('check ', e)");
        using var harness = new HostHarness(www);

        harness.Rescan();

        await Assert.That(harness.Log.MessagesStartingWith("check ")).IsEquivalentTo(new[] { "check main.lua:1: bad argument #1 to 'require' (string expected, got table)" });
    }
}
