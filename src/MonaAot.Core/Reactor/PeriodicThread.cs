using System;
using System.Threading;

namespace MonaAot.Reactor;

/// <summary>
/// A check that runs off the loop every period (the www watcher, the handler watchdog), on one
/// thread of its own. Not a <see cref="Timer"/>: a timer needs the runtime's timer thread, and
/// its callbacks run on the thread pool, which starts two workers and a gate thread for them,
/// so an idle server had four threads more than its own, about 200 KiB of resident memory for
/// a check every 2 s (docs/performance.md, "Memory at start"). The period counts from the end of
/// one tick to the start of the next, so ticks never overlap. After <see cref="Dispose"/> no
/// tick starts; one already running finishes (as with a timer): the owner guards its state.
/// </summary>
public sealed class PeriodicThread : IDisposable
{
    private readonly Action _tick;
    private readonly int _periodMs;
    private readonly object _gate = new();
    private bool _stopped;

    public PeriodicThread(string name, TimeSpan period, Action tick)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(period, TimeSpan.FromMilliseconds(1));
        _tick = tick;
        _periodMs = (int)Math.Min(period.TotalMilliseconds, int.MaxValue);
        // A background thread: it never holds the process up at exit.
        new Thread(Run) { IsBackground = true, Name = name }.Start();
    }

    private void Run()
    {
        while (true)
        {
            lock (_gate)
            {
                if (!_stopped)
                    Monitor.Wait(_gate, _periodMs);
                if (_stopped)
                    return;
            }
            _tick();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _stopped = true;
            Monitor.PulseAll(_gate);
        }
    }
}
