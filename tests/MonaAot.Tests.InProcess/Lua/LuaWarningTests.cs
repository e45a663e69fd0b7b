using System.Linq;
using System.Threading.Tasks;
using MonaAot.Diagnostics;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Lua;

/// <summary>
/// Lua's warnings reach the log (docs/api.md, "warn(...) and errors in __gc"): an error raised
/// in a __gc metamethod, which Lua catches and reports as a warning, is always logged as a
/// script error; a script's warn() only between warn("@on") and warn("@off").
/// </summary>
public class LuaWarningTests
{
    private const string Script = """
        function makeBad(text) setmetatable({}, {__gc = function() error(text) end}) end
        function makeOdd() setmetatable({}, {__gc = function() error({}) end}) end
        NOTE("ready")
        """;

    [Test]
    public async Task ErrorInGc_LoggedAtErrorWithItsMessageAndLine()
    {
        await using TcpApp app = await TcpApp.Start(Script);
        await app.Log.WaitFor("ready");
        long errorsBefore = await app.Harness.OnLoop(() => app.Harness.Runtime.ScriptErrors);

        await app.Run("makeBad('boom') collectgarbage() collectgarbage() NOTE('collected')");

        LogEntry error = await app.Log.WaitForEntry(e => e.Message.StartsWith("error in __gc"), "the __gc error");
        await Assert.That(error.Level).IsEqualTo(LogLevel.Error);
        await Assert.That(error.Message).IsEqualTo("error in __gc: boom");
        await Assert.That(error.File).IsEqualTo("main.lua");
        await Assert.That(error.Line).IsEqualTo(1);
        await app.Log.WaitFor("collected");
        await Assert.That(await app.Harness.OnLoop(() => app.Harness.Runtime.ScriptErrors)).IsEqualTo(errorsBefore + 1);
    }

    [Test]
    public async Task ErrorInGc_LoggedWhenWarningsAreOff_AndALongOneIsCut()
    {
        await using TcpApp app = await TcpApp.Start(Script);
        await app.Log.WaitFor("ready");

        await app.Run("warn('@off') makeOdd() makeBad(string.rep('x', 5000)) collectgarbage() collectgarbage() NOTE('collected')");
        await app.Log.WaitFor("collected");

        string[] errors = app.Log.Entries.Where(e => e.Level == LogLevel.Error).Select(e => e.Message).ToArray();
        await Assert.That(errors).Contains("error in __gc: error object is not a string");
        string cut = errors.Single(m => m.Contains("xxx"));
        await Assert.That(cut).EndsWith("...");
        await Assert.That(cut.Length).IsLessThan(2100);
    }

    [Test]
    public async Task Warn_LoggedOnlyBetweenOnAndOff()
    {
        await using TcpApp app = await TcpApp.Start(Script);
        await app.Log.WaitFor("ready");

        await app.Run("""
            warn("x1")
            warn("@on")
            warn("x2")
            warn("x", "3", "+")
            warn("@unknown")
            warn("@off")
            warn("x4")
            NOTE("done")
            """);
        await app.Log.WaitFor("done");

        LogEntry[] warnings = app.Log.Entries.Where(e => e.Message.StartsWith("x") || e.Message.StartsWith("@")).ToArray();
        await Assert.That(warnings.Select(e => e.Message).ToArray()).IsEquivalentTo(new[] { "x2", "x3+" });
        await Assert.That(warnings.All(e => e.Level == LogLevel.Warn)).IsTrue();
    }
}
