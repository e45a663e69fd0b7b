using System.IO;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Lua;

/// <summary>
/// [lua] cmodules = false (docs/api.md, "Lua C modules"): shared code, so checked on every
/// platform (Linux and the Windows build under Wine). Real C modules loading is the end-to-end
/// level's (CModulesProcessTests: the published binary exports the Lua API, a test run's host
/// does not). The C "module" here is a file that is no shared object: found where package.cpath
/// says, it is refused without being opened, and opened (and failing) when C modules are allowed.
/// </summary>
public class CModulesTests
{
    private const string Refused = "C modules are disabled ([lua] cmodules = false): ";

    // www/clib/fake.so (not a shared object) and www/clib/plain.lua, both on the paths.
    private static void Libraries(string www)
    {
        string folder = Path.Combine(www, "clib");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "fake.so"), "not a shared object\n");
        File.WriteAllText(Path.Combine(folder, "plain.lua"), "return { answer = 42 }\n");
    }

    private static async Task<TcpApp> Start(string ini)
    {
        string? www = null;
        TcpApp app = await TcpApp.Start("NOTE('started')", ini, setup: path => { www = path; Libraries(path); });
        string clib = Path.Combine(www!, "clib").Replace('\\', '/');
        await app.Run($"package.cpath = '{clib}/?.so' package.path = '{clib}/?.lua;' .. package.path");
        return app;
    }

    private static async Task<string> Result(TcpApp app, string label, string code)
    {
        await app.Run($"local ok, r = pcall(function() {code} end) NOTE('{label} ', ok, ' ', r)");
        return (await app.Log.WaitFor(label + " "))[(label.Length + 1)..];
    }

    [Test]
    public async Task CModulesFalse_RefusesWhatCpathFinds_AndLoadlib_LuaModulesStillLoad()
    {
        await using TcpApp app = await Start("[lua]\ncmodules = false\n");

        await Assert.That(await Result(app, "fake", "return require 'fake'")).IsEqualTo("(false) " + Refused + "fake");
        // Lua's all-in-one searcher: fake.so would hold fake.sub as luaopen_fake_sub.
        await Assert.That(await Result(app, "sub", "return require 'fake.sub'")).IsEqualTo("(false) " + Refused + "fake.sub");
        // Raised where the script called it, as Lua's own errors are.
        await Assert.That(await Result(app, "loadlib", "local f = package.loadlib('any.so', 'luaopen_any') return f"))
            .IsEqualTo("(false) [string \"?\"]:1: " + Refused + "any.so");
        string absent = await Result(app, "absent", "return require 'absent'");
        await Assert.That(absent).Contains("module 'absent' not found:");
        await Assert.That(absent).Contains("\n\tno C module: [lua] cmodules = false");
        await Assert.That(await Result(app, "plain", "return require('plain').answer")).IsEqualTo("(true) 42");
    }

    [Test]
    public async Task CModulesByDefault_ABadSharedObject_IsALuaError()
    {
        await using TcpApp app = await Start("");

        string fake = await Result(app, "fake", "return require 'fake'");
        await Assert.That(fake).StartsWith("(false) error loading module 'fake' from file '");
        await Assert.That(fake).DoesNotContain(Refused);
        await Assert.That(await Result(app, "plain", "return require('plain').answer")).IsEqualTo("(true) 42");
    }
}
