using System;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Lua;

/// <summary>docs/api.md, "Timer": setTimer's arguments, a timer's lifetime and owner, and many
/// timers.</summary>
public class TimerLifetimeTests
{
    [Test]
    [Arguments("mona:setTimer()", "bad argument #1 to 'setTimer' (function or Timer expected, got no value)")]
    [Arguments("mona:setTimer(nil, 10)", "bad argument #1 to 'setTimer' (function or Timer expected, got nil)")]
    [Arguments("mona:setTimer(5, 10)", "bad argument #1 to 'setTimer' (function or Timer expected, got number)")]
    [Arguments("mona:setTimer(mona:createTCPClient(), 10)", "bad argument #1 to 'setTimer' (function or Timer expected, got TCPClient)")]
    [Arguments("mona:setTimer(function() end, 'soon')", "bad argument #2 to 'setTimer' (number expected, got string)")]
    [Arguments("mona:setTimer(function() end, {})", "bad argument #2 to 'setTimer' (number expected, got table)")]
    [Arguments("mona:setTimer(function() end, -1)", "bad argument #2 to 'setTimer' (delay out of range (0 to 2147483647 ms, got -1))")]
    [Arguments("mona:setTimer(function() end, 2147483648)", "bad argument #2 to 'setTimer' (delay out of range (0 to 2147483647 ms, got 2147483648))")]
    [Arguments("mona:setTimer(function() end, 0/0)", "bad argument #2 to 'setTimer' (delay out of range (0 to 2147483647 ms, got nan))")]
    [Arguments("mona.setTimer(function() end, 10)", "bad argument #1 to 'setTimer' (mona expected, got function (call it as mona:setTimer))")]
    [Arguments("local t = mona:setTimer(function() end, 0) ; t.nextRaising(5)", "bad argument #1 to 'nextRaising' (Timer expected, got number)")]
    public async Task BadArguments_RaiseReadableErrors(string code, string expected)
    {
        await using TcpApp app = await TcpApp.Start("");

        await Assert.That(await TimerTests.ErrorOf(app, code)).Contains(expected);
    }

    [Test]
    public async Task Delay_NumericStringAndFloat_AreAccepted()
    {
        await using TcpApp app = await TcpApp.Start("""
            mona:setTimer(function(e) NOTE("string ", e >= 10) end, "10")
            mona:setTimer(function(e) NOTE("float ", e >= 3) end, 2.5)
            mona:setTimer(function() NOTE("max") end, 2147483647)
            """);

        await Assert.That(await app.Log.WaitFor("string ")).IsEqualTo("string (true)");
        await Assert.That(await app.Log.WaitFor("float ")).IsEqualTo("float (true)");
    }

    [Test]
    public async Task ArmedTimer_StaysAliveWithoutAReference()
    {
        await using TcpApp app = await TcpApp.Start("""
            mona:setTimer(function() NOTE("still alive") end, 100)
            collectgarbage()
            collectgarbage()
            """);

        await app.Log.WaitFor("still alive");
    }

    [Test]
    public async Task StoppedTimer_CapturingItself_IsCollected()
    {
        await using TcpApp app = await TcpApp.Start("""
            weak = setmetatable({}, {__mode = "v"})
            do
              local t
              t = mona:setTimer(function() NOTE("own ", tostring(t)) end, 1) -- fires once, then stops
              weak[1] = t
              local u
              u = mona:setTimer(function() return u end, 0)                -- never armed
              weak[2] = u
            end
            """);
        await app.Log.WaitFor("own ");

        await app.Run("collectgarbage() collectgarbage() NOTE('left ', weak[1] == nil, ' ', weak[2] == nil)");

        await Assert.That(await app.Log.WaitFor("left ")).IsEqualTo("left (true) (true)");
    }

    [Test]
    public async Task Reload_StopsTheOldVersionsTimers_IncludingOnesArmedWhileFiring()
    {
        using var www = new TempWww();
        www.WriteApp("/a", """
            mona:setTimer(function()
              mona:setTimer(function() NOTE("inner tick") return 10 end, 10) -- armed as /a
            end, 1)
            mona:setTimer(function() NOTE("old fired") end, 300)
            """);
        using var harness = new HostHarness(www);
        harness.StartLoop();
        await harness.OnLoop(() => { harness.Rescan(); return 0; });
        await harness.Log.WaitFor("inner tick");

        www.WriteApp("/a", "NOTE('v2') mona:setTimer(function() NOTE('v2 witness ', mona:stats().timers) end, 500)");
        int ticksAtReload = await harness.OnLoop(() => { harness.Rescan(); return harness.Log.MessagesStartingWith("inner tick").Count; });
        string witness = await harness.Log.WaitFor("v2 witness ");

        await Assert.That(harness.Log.Messages).DoesNotContain("old fired");
        await Assert.That(harness.Log.MessagesStartingWith("inner tick").Count).IsEqualTo(ticksAtReload);
        await Assert.That(witness).IsEqualTo("v2 witness 0");
    }

    [Test]
    public async Task ApplicationStop_StopsItsTimers()
    {
        using var www = new TempWww();
        www.WriteApp("", TimerTests.Witness(1500));
        string app = www.WriteApp("/gone", "mona:setTimer(function() NOTE('gone fired') end, 1000) NOTE('armed')");
        using var harness = new HostHarness(www);
        harness.StartLoop();
        await harness.OnLoop(() => { harness.Rescan(); return 0; });
        await harness.Log.WaitFor("armed");

        System.IO.File.Delete(app);
        await harness.OnLoop(() => { harness.Rescan(); return 0; });
        await harness.Log.WaitFor("witness");

        await Assert.That(harness.Log.Messages).DoesNotContain("gone fired");
    }

    /// <summary>100,000 armed at once, delays spread over 2 s: each fires once, never early, and
    /// in due order. Arming takes a while, so a timer armed later may be due before one armed
    /// earlier with a shorter delay; the order is checked within that arming time.</summary>
    [Test]
    [Timeout(120_000)]
    public async Task HundredThousandTimers_AllFireOnceInDueOrder(System.Threading.CancellationToken token)
    {
        await using TcpApp app = await TcpApp.Start("""
            local count, maxDelay, early, disorder = 0, 0, 0, 0
            local fired = {}
            local start = mona:time()
            for i = 1, 100000 do
              local delay = (i * 7919) % 2000 + 1
              mona:setTimer(function(elapsed)
                if fired[i] then error("fired twice") end
                fired[i] = true
                count = count + 1
                if elapsed < delay then early = early + 1 end
                if delay > maxDelay then maxDelay = delay end
                if maxDelay - delay > armingMs + 1 then disorder = disorder + 1 end
                if count == 100000 then NOTE("done ", early, " ", disorder, " ", mona:stats().timers) end
              end, delay)
            end
            armingMs = mona:time() - start
            NOTE("armed ", mona:stats().timers)
            """);

        await Assert.That(await app.Log.WaitFor("armed ", TimeSpan.FromSeconds(60))).IsEqualTo("armed 100000");
        await Assert.That(await app.Log.WaitFor("done ", TimeSpan.FromSeconds(60))).IsEqualTo("done 0 0 0");
    }
}
