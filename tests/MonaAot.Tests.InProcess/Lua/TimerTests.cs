using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading.Tasks;
using MonaAot.Diagnostics;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Lua;

/// <summary>mona:setTimer and Timer (docs/api.md, "Timer"), in-process on a running loop. Tests
/// wait for log lines; where something must not happen, a later timer of the same loop is the
/// witness.</summary>
public class TimerTests
{
    /// <summary>Logs "witness" after <paramref name="ms"/>: every timer due before has fired.</summary>
    internal static string Witness(int ms) => $"mona:setTimer(function() NOTE('witness') end, {ms})";

    internal static async Task<string> ErrorOf(TcpApp app, string code)
    {
        try
        {
            await app.Run(code);
            return "no error";
        }
        catch (InvalidOperationException e)
        {
            return e.Message;
        }
    }

    [Test]
    public async Task SetTimer_FiresOnceWithElapsed()
    {
        await using TcpApp app = await TcpApp.Start("""
            mona:setTimer(function(elapsed) NOTE("fired ", math.type(elapsed), " ", elapsed >= 20) end, 20)
            """ + "\n" + Witness(150));

        await app.Log.WaitFor("witness");

        await Assert.That(app.Log.MessagesStartingWith("fired ")).IsEquivalentTo(new[] { "fired integer (true)" });
    }

    /// <summary>Measured from outside: the C# clock read before the arming call, and again
    /// when the timer's log line is written (on the loop thread, inside fn).</summary>
    [Test]
    public async Task SetTimer_NeverFiresEarly()
    {
        await using TcpApp app = await TcpApp.Start("");
        var sink = new StampSink();
        await app.Harness.OnLoop(() => { app.Harness.Logger.AddSink(sink); return 0; });
        int[] delays = [1, 2, 3, 5, 8, 13, 21, 34];
        long armedObserved = await app.Harness.OnLoop(() =>
        {
            // Stamped before arming: a preemption between an arm and a stamp taken after it
            // would shorten the observed time below what the timer was owed.
            long before = Stopwatch.GetTimestamp();
            app.Harness.Vm.State.DoString("""
                local t0 = mona:time()
                for _, ms in ipairs({1, 2, 3, 5, 8, 13, 21, 34}) do
                  mona:setTimer(function(elapsed) NOTE("fired ", ms, " ", elapsed, " ", mona:time() - t0) end, ms)
                end
                """);
            return before;
        });

        await app.Log.WaitFor("fired 34 ");

        foreach (int ms in delays)
        {
            (long stamp, string message) = sink.Find($"fired {ms} ");
            string[] parts = message.Split(' ');
            double observedMs = Stopwatch.GetElapsedTime(armedObserved, stamp).TotalMilliseconds;
            await Assert.That(observedMs).IsGreaterThanOrEqualTo(ms).Because(message);
            await Assert.That(long.Parse(parts[2])).IsGreaterThanOrEqualTo(ms).Because(message);
            await Assert.That(long.Parse(parts[3])).IsGreaterThanOrEqualTo(ms).Because(message);
        }
    }

    [Test]
    public async Task SetTimer_NeverFiresInsideTheArmingCall()
    {
        await using TcpApp app = await TcpApp.Start("""
            local fired = false
            mona:setTimer(function() fired = true end, 1)
            local start = os.clock()
            while os.clock() - start < 0.02 do end
            NOTE("inside ", fired)
            """);

        await Assert.That(await app.Log.WaitFor("inside ")).IsEqualTo("inside (false)");
    }

    [Test]
    public async Task SetTimer_FiresInDueOrder_TiesInArmingOrder()
    {
        await using TcpApp app = await TcpApp.Start("""
            order = {}
            local function mark(label) return function() order[#order + 1] = label end end
            mona:setTimer(mark("a"), 60)
            mona:setTimer(mark("b"), 20)
            mona:setTimer(mark("c"), 40)
            mona:setTimer(mark("d"), 20)
            mona:setTimer(mark("e"), 20)
            mona:setTimer(function() NOTE("order ", table.concat(order)) end, 100)
            """);

        await Assert.That(await app.Log.WaitFor("order ")).IsEqualTo("order bdeca");
    }

    [Test]
    public async Task ReturnNumber_RearmsPeriodically()
    {
        await using TcpApp app = await TcpApp.Start("""
            local ticks = 0
            mona:setTimer(function(elapsed)
              ticks = ticks + 1
              NOTE("tick ", ticks, " ", elapsed >= 10)
              if ticks < 5 then return 10 end
            end, 10)
            """);

        await app.Log.WaitFor("tick 5");
        await app.Run(Witness(60));
        await app.Log.WaitFor("witness");

        await Assert.That(app.Log.MessagesStartingWith("tick ")).IsEquivalentTo(new[] { "tick 1 (true)", "tick 2 (true)", "tick 3 (true)", "tick 4 (true)", "tick 5 (true)" });
        await app.Run("NOTE('armed ', mona:stats().timers)");
        await Assert.That(await app.Log.WaitFor("armed ")).IsEqualTo("armed 0");
    }

    [Test]
    [Arguments("nil")]
    [Arguments("0")]
    [Arguments("-5")]
    [Arguments("0.5")]
    [Arguments("0/0")]
    [Arguments("'100'")]
    [Arguments("true")]
    [Arguments("{}")]
    public async Task ReturnOtherThanANumberOfAtLeastOne_Stops(string value)
    {
        await using TcpApp app = await TcpApp.Start($$"""
            local calls = 0
            t = mona:setTimer(function() calls = calls + 1 return {{value}} end, 5)
            mona:setTimer(function() NOTE("calls ", calls, " ", tostring(t)) end, 100)
            """);

        await Assert.That(await app.Log.WaitFor("calls ")).IsEqualTo("calls 1 Timer (stopped)");
    }

    [Test]
    public async Task ReturnFraction_RearmsRoundedUp()
    {
        await using TcpApp app = await TcpApp.Start("""
            local calls = 0
            mona:setTimer(function(elapsed)
              calls = calls + 1
              if calls == 2 then NOTE("second ", elapsed >= 2) return end
              return 1.2
            end, 1)
            """);

        await Assert.That(await app.Log.WaitFor("second ")).IsEqualTo("second (true)");
    }

    [Test]
    public async Task Error_IsLoggedWithFileAndLine_AndStopsTheTimer()
    {
        await using TcpApp app = await TcpApp.Start("""
            calls = 0
            t = mona:setTimer(function()
              calls = calls + 1
              mona:setTimer(t, 10) -- a re-arm made before the error does not stand
              error("boom")
            end, 5)
            """);

        LogEntry error = await app.Log.WaitForEntry(e => e.Level == LogLevel.Error, "an ERROR");
        await app.Run(Witness(80));
        await app.Log.WaitFor("witness");
        await app.Run("NOTE('after ', calls, ' ', tostring(t), ' ', t:nextRaising())");

        await Assert.That(error.File).IsEqualTo("main.lua");
        await Assert.That(error.Line).IsEqualTo(5);
        await Assert.That(error.Message).Contains("boom");
        await Assert.That(error.Message).Contains("traceback");
        await Assert.That(await app.Log.WaitFor("after ")).IsEqualTo("after 1 Timer (stopped) 0");
    }

    [Test]
    public async Task SetTimerOnTimer_RearmsAStoppedTimer()
    {
        await using TcpApp app = await TcpApp.Start("""
            calls = 0
            t = mona:setTimer(function(elapsed) calls = calls + 1 NOTE("call ", calls, " ", elapsed >= 15) end, 5)
            """);
        await app.Log.WaitFor("call 1");

        await app.Run("assert(mona:setTimer(t, 15) == t)");

        await Assert.That(await app.Log.WaitFor("call 2")).IsEqualTo("call 2 (true)");
    }

    [Test]
    public async Task SetTimerOnTimer_RearmsAnArmedTimerFromNow()
    {
        await using TcpApp app = await TcpApp.Start("""
            t = mona:setTimer(function(elapsed) NOTE("fired ", elapsed < 5000) end, 60000)
            mona:setTimer(t, 10)
            """);

        await Assert.That(await app.Log.WaitFor("fired ")).IsEqualTo("fired (true)");
    }

    [Test]
    public async Task SetTimerOnTimer_ZeroStops()
    {
        await using TcpApp app = await TcpApp.Start("""
            t = mona:setTimer(function() NOTE("fired") end, 20)
            mona:setTimer(t, 0)
            NOTE("state ", tostring(t), " ", t:nextRaising(), " ", mona:stats().timers)
            """ + "\n" + Witness(100));

        await app.Log.WaitFor("witness");

        await Assert.That(app.Log.MessagesStartingWith("state ")).IsEquivalentTo(new[] { "state Timer (stopped) 0 0" });
        await Assert.That(app.Log.Messages).DoesNotContain("fired");
    }

    [Test]
    public async Task SetTimerWithoutDelay_CallsNowAndArmsWithTheAnswer()
    {
        await using TcpApp app = await TcpApp.Start("""
            local calls = 0
            t = mona:setTimer(function(elapsed)
              calls = calls + 1
              NOTE("call ", calls, " ", elapsed)
              if calls == 1 then return 10 end
            end)
            NOTE("returned ", tostring(t):sub(1, 12))
            """);

        await app.Log.WaitFor("call 2");

        List<string> lines = app.Log.Messages.FindAll(m => m.StartsWith("call ") || m.StartsWith("returned "));
        await Assert.That(lines[0]).IsEqualTo("call 1 0");
        await Assert.That(lines[1]).IsEqualTo("returned Timer (armed");
        await Assert.That(long.Parse(lines[2].Split(' ')[2])).IsGreaterThanOrEqualTo(10);
    }

    [Test]
    public async Task SetTimerWithoutDelay_ErrorIsLogged_TimerStoppedAndReturned()
    {
        await using TcpApp app = await TcpApp.Start("""
            t = mona:setTimer(function() error("at once") end)
            NOTE("returned ", tostring(t))
            """);

        LogEntry error = await app.Log.WaitForEntry(e => e.Level == LogLevel.Error, "an ERROR");

        await Assert.That(error.Message).Contains("at once");
        await Assert.That(error.Line).IsEqualTo(1);
        await Assert.That(await app.Log.WaitFor("returned ")).IsEqualTo("returned Timer (stopped)");
    }

    [Test]
    public async Task SetTimerOnTimerWithoutDelay_CallsItsFunctionNow()
    {
        await using TcpApp app = await TcpApp.Start("""
            t = mona:setTimer(function(elapsed) NOTE("called ", elapsed) end, 60000)
            mona:setTimer(t)
            NOTE("then ", tostring(t))
            """);

        await app.Log.WaitFor("then ");

        await Assert.That(app.Log.MessagesStartingWith("called ")).IsEquivalentTo(new[] { "called 0" });
        await Assert.That(app.Log.MessagesStartingWith("then ")).IsEquivalentTo(new[] { "then Timer (stopped)" });
    }

    [Test]
    public async Task RearmInsideFn_TheAnswerDecides()
    {
        await using TcpApp app = await TcpApp.Start("""
            calls = 0
            t = mona:setTimer(function(elapsed)
              calls = calls + 1
              NOTE("call ", calls, " ", elapsed)
              if calls == 1 then mona:setTimer(t, 60000) return 10 end -- the answer re-arms
              mona:setTimer(t, 30)                                      -- no number: stopped
              mona:setTimer(function() NOTE("witness ", tostring(t)) end, 100)
            end, 5)
            """);

        string witness = await app.Log.WaitFor("witness ");

        List<string> calls = app.Log.MessagesStartingWith("call ");
        await Assert.That(calls.Count).IsEqualTo(2);
        await Assert.That(long.Parse(calls[1].Split(' ')[2])).IsBetween(10, 5000);
        await Assert.That(witness).IsEqualTo("witness Timer (stopped)");
    }

    [Test]
    public async Task Fn_StopsAnotherTimerDueAtTheSameTime_ItNeverFires()
    {
        await using TcpApp app = await TcpApp.Start("""
            local b
            mona:setTimer(function() mona:setTimer(b, 0) NOTE("a stopped b") end, 10)
            b = mona:setTimer(function() NOTE("b fired") end, 10)
            """ + "\n" + Witness(100));

        await app.Log.WaitFor("witness");

        await Assert.That(app.Log.Messages).Contains("a stopped b");
        await Assert.That(app.Log.Messages).DoesNotContain("b fired");
    }

    [Test]
    public async Task NextRaising_IsWallClockOfNextFiring_ZeroWhenStopped()
    {
        await using TcpApp app = await TcpApp.Start("""
            local before = mona:time()
            local t = mona:setTimer(function() end, 5000)
            local next = t:nextRaising()
            local after = mona:time()
            NOTE("next ", math.type(next), " ", next >= before + 5000, " ", next <= after + 5000)
            mona:setTimer(t, 0)
            NOTE("stopped ", t:nextRaising())
            """);

        await Assert.That(await app.Log.WaitFor("next ")).IsEqualTo("next integer (true) (true)");
        await Assert.That(await app.Log.WaitFor("stopped ")).IsEqualTo("stopped 0");
    }

    [Test]
    public async Task ToString_NamesTheTypeAndState()
    {
        await using TcpApp app = await TcpApp.Start("""
            local t = mona:setTimer(function() end, 250)
            NOTE("armed ", tostring(t))
            mona:setTimer(t, 0)
            NOTE("stopped ", tostring(t))
            """);

        string armed = await app.Log.WaitFor("armed ");
        await Assert.That(armed).Matches(@"^armed Timer \(armed, ([1-9]\d?|1\d\d|2[0-4]\d|250) ms left\)$");
        await Assert.That(await app.Log.WaitFor("stopped ")).IsEqualTo("stopped Timer (stopped)");
    }

    /// <summary>Log sink that stamps each line with the precise clock as it is written.</summary>
    private sealed class StampSink : ILogSink
    {
        private readonly List<(long Stamp, string Message)> _lines = new();

        public void Write(in LogEntry entry)
        {
            long stamp = Stopwatch.GetTimestamp();
            lock (_lines)
                _lines.Add((stamp, entry.Message));
        }

        public (long Stamp, string Message) Find(string prefix)
        {
            lock (_lines)
                return _lines.Find(l => l.Message.StartsWith(prefix, StringComparison.Ordinal));
        }
    }
}
