using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using MonaAot.Hosting;
using MonaAot.Reactor;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Hosting;

/// <summary>The www watcher's checks of module files (docs/architecture.md, "Modules"), the
/// check called directly rather than by its timer.</summary>
public class ApplicationScannerTests
{
    [Test]
    public async Task Check_WhileNothingChanges_AllocatesNothing()
    {
        using var www = new TempWww();
        www.WriteApp("/a", "");
        string module = www.WriteFile("a/util.lua", "return 1");
        using EventLoop loop = EventLoop.CreateDefault();
        using var scanner = new ApplicationScanner(www.Www, loop, _ => { }, () => { });
        scanner.WatchModules([WatchedFile.Stat(module), WatchedFile.Stat(Path.Combine(www.Www, "a", "missing.lua"))]);
        scanner.Start();
        // Warm long enough for the JIT to tier Check up (the Windows build under Wine runs JIT,
        // not Native AOT), so that the measured calls see the final code.
        for (int i = 0; i < 2000; i++)
            scanner.Check();

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
            scanner.Check();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        await Assert.That(allocated).IsEqualTo(0);
    }

    [Test]
    public async Task ModuleChange_IsReportedOnce_UntilTheHostHandsOverANewList()
    {
        using var www = new TempWww();
        www.WriteApp("/a", "");
        string module = www.WriteFile("a/util.lua", "return 1");
        string added = Path.Combine(www.Www, "a", "added.lua");
        using EventLoop loop = EventLoop.CreateDefault();
        var thread = new Thread(loop.Run) { IsBackground = true };
        thread.Start();
        int reports = 0;
        try
        {
            using var scanner = new ApplicationScanner(www.Www, loop, _ => { }, () => Interlocked.Increment(ref reports));
            scanner.WatchModules([WatchedFile.Stat(module), WatchedFile.Stat(added)]);
            scanner.Start();

            scanner.Check();
            www.WriteFile("a/util.lua", "return 2");
            scanner.Check();
            scanner.Check();
            await Drain(loop);
            int afterChange = Volatile.Read(ref reports);

            scanner.WatchModules([WatchedFile.Stat(module), WatchedFile.Stat(added)]);
            scanner.Check();
            www.WriteFile("a/added.lua", "return 3");
            scanner.Check();
            await Drain(loop);

            await Assert.That(afterChange).IsEqualTo(1);
            await Assert.That(Volatile.Read(ref reports)).IsEqualTo(2);
        }
        finally
        {
            loop.Stop();
            thread.Join(TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>Waits until what was posted before has run.</summary>
    private static Task Drain(EventLoop loop)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Post(() => done.SetResult());
        return done.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
