using System;
using MonaAot.Reactor;

namespace MonaAot.Metrics;

/// <summary>
/// Loop lag: a timer armed every <see cref="IntervalMs"/> and how late it fires, which is how
/// long the loop was busy (a long script call, a burst of I/O) while the timer was due. Runs only
/// when the metrics endpoint does; allocates nothing per tick.
/// </summary>
public sealed class LoopLagProbe : IDisposable
{
    public const int IntervalMs = 250;

    private readonly EventLoop _loop;
    private readonly LoopTimer _timer;
    private long _armedAt;

    public LoopLagProbe(EventLoop loop)
    {
        _loop = loop;
        _timer = loop.CreateTimer(Tick);
        Arm();
    }

    /// <summary>The lateness of the last tick, in milliseconds.</summary>
    public long LastMs { get; private set; }

    /// <summary>The largest lateness since <see cref="TakeMaxMs"/> was last called.</summary>
    private long _maxMs;

    /// <summary>The largest lateness since the previous call (the previous scrape), then starts over.</summary>
    public long TakeMaxMs()
    {
        long max = Math.Max(_maxMs, LastMs);
        _maxMs = 0;
        return max;
    }

    private void Arm()
    {
        _armedAt = EventLoop.Now;
        _loop.Restart(_timer, IntervalMs);
    }

    private void Tick()
    {
        LastMs = Math.Max(0, EventLoop.Now - _armedAt - IntervalMs);
        _maxMs = Math.Max(_maxMs, LastMs);
        Arm();
    }

    public void Dispose() => _timer.Cancel();
}
