using System;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.EndToEnd;

/// <summary>require per application with the published binary and its www watcher (docs/api.md,
/// "require"): a module file that changes reloads the applications that required it.</summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class RequireProcessTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    [Test]
    public async Task ChangedModule_ReloadsTheApplicationsThatRequiredIt()
    {
        using var www = new TempWww();
        www.WriteFile("shared.lua", "return 'version 1'");
        www.WriteApp("/a", "function onStart() NOTE('a says ', (require 'shared')) end");
        www.WriteApp("/b", "function onStart() NOTE('b says ', (require 'shared')) end");
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        int started = Math.Max(await mona.WaitForLine("a says version 1", Wait), await mona.WaitForLine("b says version 1", Wait));

        www.WriteFile("shared.lua", "return 'version 2'");

        int reloading = await mona.WaitForLine("Application '/a' changed (shared.lua), reloading", Wait, started);
        await mona.WaitForLine("a says version 2", Wait, reloading);
        await mona.WaitForLine("b says version 2", Wait, started);
    }

    [Test]
    public async Task BrokenModule_IsReportedWithFileAndLine_AndLoadsOnceFixed()
    {
        using var www = new TempWww();
        www.WriteApp("", "function onManage() NOTE('root manages') end");
        www.WriteFile("app/util.lua", "local M = {}\nM.x = = 1\nreturn M");
        www.WriteApp("/app", "local util = require 'util'\nNOTE('util loaded ', util.x)");
        await using MonaProcess mona = MonaProcess.Start(www.Www);
        int error = await mona.WaitForLine("ERROR  app/util.lua[2]", Wait);
        await mona.WaitForLine("ERROR  app/main.lua[1] error loading module 'util' from file 'app/util.lua':", Wait);
        await mona.WaitForLine("root manages", Wait, error);

        www.WriteFile("app/util.lua", "return { x = 'fixed' }");

        await mona.WaitForLine("util loaded fixed", Wait, error);
    }
}
