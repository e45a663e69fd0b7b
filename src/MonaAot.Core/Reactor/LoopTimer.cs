using System;

namespace MonaAot.Reactor;

/// <summary>
/// A timer of the loop, armed by <see cref="EventLoop.Schedule"/> or, unarmed, made by
/// <see cref="EventLoop.CreateTimer"/> and armed (again and again, allocating nothing) by
/// <see cref="EventLoop.Restart"/>. <see cref="Cancel"/> removes it from the queue at once and
/// is safe from inside its own callback. Loop thread only.
/// </summary>
public sealed class LoopTimer
{
    private readonly TimerQueue _queue;

    internal LoopTimer(TimerQueue queue, Action callback, long periodTicks)
    {
        _queue = queue;
        Callback = callback;
        PeriodTicks = periodTicks;
    }

    internal Action Callback { get; }

    /// <summary>0 for a one-shot timer, else the period in clock ticks.</summary>
    internal long PeriodTicks { get; }

    /// <summary>When it is due, in <see cref="MonotonicClock"/> ticks (valid while armed).</summary>
    public long Due { get; internal set; }

    /// <summary>Arming order: breaks ties between timers due at the same tick.</summary>
    internal long Sequence { get; set; }

    /// <summary>Its slot in the queue's heap, -1 while not armed.</summary>
    internal int HeapIndex { get; set; } = -1;

    /// <summary>Waiting to fire. A one-shot timer is no longer armed while its callback runs;
    /// a periodic one is already armed for its next tick then.</summary>
    public bool IsArmed => HeapIndex >= 0;

    /// <summary>Not armed: cancelled, or a one-shot timer that fired.</summary>
    public bool Cancelled => HeapIndex < 0;

    /// <summary>Disarms it (O(log n)); a no-op when it is not armed.</summary>
    public void Cancel() => _queue.Remove(this);
}
