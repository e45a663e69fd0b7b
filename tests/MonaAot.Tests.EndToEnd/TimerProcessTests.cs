using System;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.EndToEnd;

/// <summary>Lua timers through the published out/monaaot, as a user runs it.</summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class TimerProcessTests
{
    [Test]
    public async Task PeriodicTimer_TicksThenStops()
    {
        using var www = new TempWww();
        www.WriteApp("", """
            local ticks = 0
            mona:setTimer(function(elapsed)
              ticks = ticks + 1
              NOTE("tick ", ticks, " ", elapsed >= 20)
              if ticks < 3 then return 20 end
              NOTE("armed after ", mona:stats().timers)
            end, 20)
            """);
        await using MonaProcess mona = MonaProcess.Start(www.Www);

        await mona.WaitForLine("armed after 0", TcpProcessTests.Wait);

        await Assert.That(mona.Lines.FindAll(l => l.Contains(" tick ")).Count).IsEqualTo(3);
        await Assert.That(mona.Lines.FindAll(l => l.EndsWith(" (true)") && l.Contains(" tick ")).Count).IsEqualTo(3);
    }

    /// <summary>
    /// Firing timers allocates no managed memory: 100 periodic timers of 1 ms, and what the whole
    /// process allocated over 100,000 firings is what it allocated over 10,000, within a few KiB
    /// (the www scanner's periodic work and the like, which do not depend on firings). Measured
    /// from inside a timer, the path being measured.
    /// </summary>
    [Test]
    [Timeout(180_000)]
    public async Task Firing_ManagedAllocations_DoNotGrowWithFirings(System.Threading.CancellationToken token)
    {
        using var www = new TempWww();
        www.WriteApp("", """
            local fired, marks = 0, {}
            local function mark() marks[#marks + 1] = mona:stats().managedAllocatedBytes end
            local function tick()
              fired = fired + 1
              if fired == 5000 or fired == 15000 or fired == 115000 then mark() end
              if fired == 115000 then
                NOTE("growth ", marks[2] - marks[1], " ", marks[3] - marks[2])
                return
              end
              if fired > 115000 then return end
              return 1
            end
            ticks = 0
            function onManage()
              ticks = ticks + 1
              if ticks == 2 then
                for i = 1, 100 do mona:setTimer(tick, 1) end
              end
            end
            """);
        await using MonaProcess mona = MonaProcess.Start(www.Www);

        // The process's one-time start-up work (the first manage ticks, the watcher's first
        // check) is done before the timers start.
        string line = await mona.WaitForLineText("growth ", TimeSpan.FromSeconds(120));
        string[] parts = line[(line.IndexOf("growth ", StringComparison.Ordinal) + 7)..].Split(' ');
        long growth10k = long.Parse(parts[0]), growth100k = long.Parse(parts[1]);

        await Assert.That(growth100k - growth10k).IsLessThan(8 * 1024).Because($"10k firings: +{growth10k} bytes, 100k firings: +{growth100k} bytes");
    }
}
