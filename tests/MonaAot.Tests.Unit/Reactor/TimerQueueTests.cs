using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using MonaAot.Reactor;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Reactor;

/// <summary>The loop's timer heap, driven with made-up times (no clock, no loop).</summary>
public class TimerQueueTests
{
    private static readonly Action<Exception> Rethrow = e => throw e;

    [Test]
    public async Task RunDue_SameDue_FiresInArmingOrder()
    {
        var queue = new TimerQueue();
        var fired = new List<int>();
        for (int i = 0; i < 10; i++)
        {
            int label = i;
            queue.Arm(queue.Create(() => fired.Add(label)), 100);
        }

        queue.RunDue(100, Rethrow);

        await Assert.That(fired).IsEquivalentTo(new[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 });
    }

    [Test]
    public async Task RunDue_NotYetDue_DoesNotRun()
    {
        var queue = new TimerQueue();
        int fired = 0;
        queue.Arm(queue.Create(() => fired++), 100);

        queue.RunDue(99, Rethrow);

        await Assert.That(fired).IsEqualTo(0);
        await Assert.That(queue.Count).IsEqualTo(1);
    }

    [Test]
    public async Task Rearm_MovesToTheBackOfItsTick()
    {
        var queue = new TimerQueue();
        var fired = new List<string>();
        LoopTimer a = queue.Create(() => fired.Add("a"));
        queue.Arm(a, 50);
        queue.Arm(queue.Create(() => fired.Add("b")), 50);

        queue.Arm(a, 50);
        queue.RunDue(50, Rethrow);

        await Assert.That(fired).IsEquivalentTo(new[] { "b", "a" });
    }

    [Test]
    public async Task Cancel_RemovesAtOnce()
    {
        var queue = new TimerQueue();
        var timers = new List<LoopTimer>();
        for (int i = 0; i < 1000; i++)
        {
            LoopTimer timer = queue.Create(() => { });
            queue.Arm(timer, i);
            timers.Add(timer);
        }

        foreach (LoopTimer timer in timers)
            timer.Cancel();

        await Assert.That(queue.Count).IsEqualTo(0);
        await Assert.That(queue.Peek()).IsNull();
        await Assert.That(timers.TrueForAll(t => t.Cancelled)).IsTrue();
    }

    [Test]
    public async Task RunDue_TimerArmedByACallback_WaitsForTheNextCall()
    {
        var queue = new TimerQueue();
        int count = 0;
        LoopTimer timer = null!;
        timer = queue.Create(() =>
        {
            count++;
            queue.Arm(timer, 0); // due at once, again and again
        });
        queue.Arm(timer, 0);

        queue.RunDue(10, Rethrow);

        await Assert.That(count).IsEqualTo(1);
        await Assert.That(timer.IsArmed).IsTrue();
    }

    [Test]
    public async Task Periodic_KeepsPaceAndSkipsMissedTicks()
    {
        var queue = new TimerQueue();
        var ran = new List<long>();
        long now = 0;
        LoopTimer timer = queue.Create(() => ran.Add(now), periodTicks: 10);
        queue.Arm(timer, 10);

        foreach (long t in new long[] { 12, 20, 55, 60 })
        {
            now = t;
            queue.RunDue(t, Rethrow);
        }

        // 12: due 10, next 20; 20: next 30; 55: 30 missed, so next 65 (skips 40, 50); 60: nothing.
        await Assert.That(ran).IsEquivalentTo(new long[] { 12, 20, 55 });
        await Assert.That(timer.Due).IsEqualTo(65);
    }

    [Test]
    public async Task Cancel_FromItsOwnCallback_StopsAPeriodicTimer()
    {
        var queue = new TimerQueue();
        int count = 0;
        LoopTimer timer = null!;
        timer = queue.Create(() => { count++; timer.Cancel(); }, periodTicks: 5);
        queue.Arm(timer, 5);

        queue.RunDue(5, Rethrow);
        queue.RunDue(100, Rethrow);

        await Assert.That(count).IsEqualTo(1);
        await Assert.That(queue.Count).IsEqualTo(0);
    }

    /// <summary>Random arms, re-arms, cancels and runs against a sorted reference: the same
    /// timers fire in the same order, and the queue holds exactly the armed ones.</summary>
    [Test]
    [Arguments(1)]
    [Arguments(2)]
    [Arguments(3)]
    public async Task RandomOperations_MatchAReferenceModel(int seed)
    {
        var random = new Random(seed);
        var queue = new TimerQueue();
        var model = new SortedSet<(long Due, long Seq, int Id)>();
        var keys = new Dictionary<int, (long Due, long Seq, int Id)>();
        var timers = new LoopTimer[2000];
        var fired = new List<int>();
        long seq = 0, now = 0;
        for (int i = 0; i < timers.Length; i++)
        {
            int id = i;
            timers[i] = queue.Create(() => fired.Add(id));
        }
        for (int step = 0; step < 100_000; step++)
        {
            int id = random.Next(timers.Length);
            int op = random.Next(10);
            if (op < 6)
            {
                long due = now + random.Next(0, 500); // many ties on purpose
                queue.Arm(timers[id], due);
                if (keys.Remove(id, out var old))
                    model.Remove(old);
                keys[id] = (due, ++seq, id);
                model.Add(keys[id]);
            }
            else if (op < 9)
            {
                timers[id].Cancel();
                if (keys.Remove(id, out var old))
                    model.Remove(old);
            }
            else
            {
                now += random.Next(0, 50);
                fired.Clear();
                queue.RunDue(now, Rethrow);
                var expected = new List<int>();
                while (model.Count > 0 && model.Min.Due <= now)
                {
                    expected.Add(model.Min.Id);
                    keys.Remove(model.Min.Id);
                    model.Remove(model.Min);
                }
                if (!fired.ToArray().AsSpan().SequenceEqual(expected.ToArray()))
                    throw new InvalidOperationException($"step {step}: fired [{string.Join(",", fired)}], expected [{string.Join(",", expected)}]");
            }
            if (queue.Count != model.Count)
                throw new InvalidOperationException($"step {step}: {queue.Count} armed, expected {model.Count}");
        }

        await Assert.That(queue.Peek()?.Due ?? -1).IsEqualTo(model.Count > 0 ? model.Min.Due : -1);
    }

    [Test]
    public async Task NextTimeout_RoundsUp()
    {
        var queue = new TimerQueue();
        long msTicks = MonotonicClock.TicksFromMilliseconds(1);
        queue.Arm(queue.Create(() => { }), 10 * msTicks + 1);

        await Assert.That(queue.NextTimeout(0)).IsEqualTo(11);
        await Assert.That(queue.NextTimeout(10 * msTicks)).IsEqualTo(1);
        await Assert.That(queue.NextTimeout(10 * msTicks + 1)).IsEqualTo(0);
        await Assert.That(new TimerQueue().NextTimeout(0)).IsEqualTo(-1);
    }
}
