using System;
using System.Collections.Generic;

namespace MonaAot.Reactor;

/// <summary>A timer of the loop. <see cref="Cancel"/> is safe from inside its own callback.</summary>
public sealed class LoopTimer
{
    internal LoopTimer(Action callback, long due, long periodMs)
    {
        Callback = callback;
        Due = due;
        PeriodMs = periodMs;
    }

    internal Action Callback { get; }
    internal long Due { get; set; }
    internal long PeriodMs { get; }
    public bool Cancelled { get; private set; }

    public void Cancel() => Cancelled = true;
}

/// <summary>
/// Timers ordered by due time (milliseconds of <see cref="Environment.TickCount64"/>). A periodic
/// timer is rescheduled from its due time, not from when it ran, so it keeps its pace; after a
/// stall longer than a period it skips the missed ticks rather than firing them in a burst.
/// </summary>
internal sealed class TimerQueue
{
    private readonly PriorityQueue<LoopTimer, long> _queue = new();

    public LoopTimer Add(long now, long delayMs, long periodMs, Action callback)
    {
        var timer = new LoopTimer(callback, now + Math.Max(0, delayMs), periodMs);
        _queue.Enqueue(timer, timer.Due);
        return timer;
    }

    /// <summary>Milliseconds until the next live timer is due: 0 if overdue, -1 if none.</summary>
    public int NextTimeout(long now)
    {
        while (_queue.TryPeek(out LoopTimer? timer, out long due))
        {
            if (timer.Cancelled)
            {
                _queue.Dequeue();
                continue;
            }
            return (int)Math.Clamp(due - now, 0, int.MaxValue);
        }
        return -1;
    }

    /// <summary>Runs every timer due at <paramref name="now"/>; callbacks may add or cancel timers.</summary>
    public void RunDue(long now, Action<Exception> onError)
    {
        while (_queue.TryPeek(out LoopTimer? timer, out long due) && due <= now)
        {
            _queue.Dequeue();
            if (timer.Cancelled)
                continue;
            if (timer.PeriodMs > 0)
            {
                long next = timer.Due + timer.PeriodMs;
                if (next <= now)
                    next = now + timer.PeriodMs;
                timer.Due = next;
                _queue.Enqueue(timer, next);
            }
            else
            {
                timer.Cancel();
            }
            try
            {
                timer.Callback();
            }
            catch (Exception e)
            {
                onError(e);
            }
        }
    }
}
