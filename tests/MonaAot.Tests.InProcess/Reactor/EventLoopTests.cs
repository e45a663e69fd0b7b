using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using MonaAot.Reactor;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Reactor;

public class EventLoopTests
{
    /// <summary>Runs a loop on its own thread for the test; stops and joins it on dispose.</summary>
    private sealed class RunningLoop : System.IDisposable
    {
        public RunningLoop()
        {
            Loop = EventLoop.CreateDefault();
            Thread = new Thread(Loop.Run) { IsBackground = true, Name = "test loop" };
            Thread.Start();
        }

        public EventLoop Loop { get; }
        public Thread Thread { get; }

        public void Dispose()
        {
            Loop.Stop();
            Thread.Join();
            Loop.Dispose();
        }
    }

    /// <summary>AddBeforeWait: the hook runs on the loop thread at the start of every turn, so a
    /// timer it arms there bounds the wait that follows (the idle trim's way).</summary>
    [Test]
    public async Task AddBeforeWait_RunsEachTurn_AndMayArmATimer()
    {
        var loop = EventLoop.CreateDefault();
        var fired = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        int turns = 0;
        bool onLoop = true;
        LoopTimer timer = loop.CreateTimer(() => fired.TrySetResult(turns));
        loop.AddBeforeWait(() =>
        {
            onLoop &= loop.IsLoopThread;
            if (++turns == 1)
                loop.Restart(timer, 20);
        });
        var thread = new Thread(loop.Run) { IsBackground = true, Name = "test loop" };
        thread.Start();
        try
        {
            // Nothing else wakes this loop: without the hook's timer its first wait never ends.
            int turnsWhenFired = await fired.Task.WaitAsync(System.TimeSpan.FromSeconds(10));
            await Assert.That(turnsWhenFired).IsGreaterThanOrEqualTo(1);
            await Assert.That(onLoop).IsTrue();
        }
        finally
        {
            loop.Stop();
            thread.Join();
            loop.Dispose();
        }
    }

    [Test]
    public async Task Post_FromAnotherThread_RunsOnLoopThread()
    {
        using var running = new RunningLoop();
        var ran = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);

        running.Loop.Post(() => ran.SetResult(running.Loop.IsLoopThread));

        await Assert.That(await ran.Task.WaitAsync(System.TimeSpan.FromSeconds(10))).IsTrue();
    }

    /// <summary>A post made on the loop thread wakes nothing (EventLoop.Post): one made by a
    /// posted action or a timer, after this turn's posted work ran, must still run on the next
    /// turn rather than wait for some other event (the wait's timeout is 0 then). No timer is
    /// armed and no other thread posts while the chain runs, so a lost post hangs it.</summary>
    [Test]
    public async Task Post_FromTheLoopThread_RunsOnTheNextTurnWithoutAWake()
    {
        using var running = new RunningLoop();
        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        int remaining = 1_000;
        bool onLoop = true;
        void Step()
        {
            onLoop &= running.Loop.IsLoopThread;
            if (--remaining == 0)
            {
                done.SetResult(onLoop);
                return;
            }
            if (remaining % 2 == 0)
                running.Loop.Post(Step); // from a posted action: after RunPosted's count
            else
                running.Loop.Schedule(0, 0, () => running.Loop.Post(Step)); // from a timer
        }

        running.Loop.Post(Step);

        await Assert.That(await done.Task.WaitAsync(System.TimeSpan.FromSeconds(10))).IsTrue();
    }

    [Test]
    public async Task Post_ManyFromManyThreads_AllRunInOrderPerThread()
    {
        using var running = new RunningLoop();
        const int perThread = 10_000;
        var seen = new Dictionary<int, int>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int remaining = 4 * perThread;
        bool ordered = true;
        var posters = new List<Task>();
        for (int t = 0; t < 4; t++)
        {
            int thread = t;
            posters.Add(Task.Run(() =>
            {
                for (int i = 0; i < perThread; i++)
                {
                    int value = i;
                    running.Loop.Post(() =>
                    {
                        seen.TryGetValue(thread, out int last);
                        ordered &= value == last;
                        seen[thread] = value + 1;
                        if (--remaining == 0)
                            done.SetResult();
                    });
                }
            }));
        }

        await Task.WhenAll(posters);
        await done.Task.WaitAsync(System.TimeSpan.FromSeconds(20));

        await Assert.That(ordered).IsTrue();
    }

    [Test]
    public async Task Schedule_Timers_FireInDueOrder()
    {
        using var running = new RunningLoop();
        var order = new List<int>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        running.Loop.Post(() =>
        {
            running.Loop.Schedule(60, 0, () => { order.Add(3); done.SetResult(); });
            running.Loop.Schedule(0, 0, () => order.Add(1));
            running.Loop.Schedule(20, 0, () => order.Add(2));
        });
        await done.Task.WaitAsync(System.TimeSpan.FromSeconds(10));

        await Assert.That(order).IsEquivalentTo(new[] { 1, 2, 3 });
    }

    [Test]
    public async Task Schedule_PeriodicTimer_RepeatsUntilCancelled()
    {
        using var running = new RunningLoop();
        int ticks = 0;
        var done = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);

        running.Loop.Post(() =>
        {
            LoopTimer? timer = null;
            timer = running.Loop.Schedule(1, 1, () =>
            {
                if (++ticks == 5)
                {
                    timer!.Cancel();
                    // A later one-shot proves the cancelled timer no longer fires.
                    running.Loop.Schedule(20, 0, () => done.SetResult(ticks));
                }
            });
        });

        await Assert.That(await done.Task.WaitAsync(System.TimeSpan.FromSeconds(10))).IsEqualTo(5);
    }

    [Test]
    public async Task Callback_Throwing_IsReportedAndLoopContinues()
    {
        using var running = new RunningLoop();
        var reported = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var after = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        running.Loop.UnhandledException = e => reported.TrySetResult(e.Message);

        running.Loop.Post(() => throw new System.InvalidOperationException("boom"));
        running.Loop.Post(after.SetResult);

        await Assert.That(await reported.Task.WaitAsync(System.TimeSpan.FromSeconds(10))).IsEqualTo("boom");
        await after.Task.WaitAsync(System.TimeSpan.FromSeconds(10));
    }
}
