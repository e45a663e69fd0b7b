using System;

namespace MonaAot.Reactor;

/// <summary>
/// The loop's timers: an indexed binary min-heap keyed by (due, arming sequence), so that
/// timers due at the same tick fire in the order they were armed. Each <see cref="LoopTimer"/>
/// knows its slot, so arming, re-arming and cancelling are O(log n) and a cancelled timer
/// leaves the heap at once (nothing piles up for a later pop to skip). Times are
/// <see cref="MonotonicClock"/> ticks, given by the caller, which keeps this testable.
///
/// A periodic timer is re-armed from its due time, not from when it ran, so it keeps its pace;
/// after a stall longer than a period it skips the missed ticks rather than firing them in a
/// burst.
/// </summary>
internal sealed class TimerQueue
{
    private LoopTimer[] _heap = new LoopTimer[16];
    private long _sequence;

    /// <summary>Armed timers.</summary>
    public int Count { get; private set; }

    /// <summary>A timer that is not armed yet.</summary>
    public LoopTimer Create(Action callback, long periodTicks = 0) => new(this, callback, periodTicks);

    /// <summary>Arms <paramref name="timer"/> (armed or not) for <paramref name="due"/>; it
    /// then comes after every timer already armed for the same tick.</summary>
    public void Arm(LoopTimer timer, long due)
    {
        timer.Due = due;
        timer.Sequence = ++_sequence;
        if (timer.HeapIndex < 0)
        {
            if (Count == _heap.Length)
                Array.Resize(ref _heap, _heap.Length * 2);
            timer.HeapIndex = Count;
            _heap[Count++] = timer;
            SiftUp(timer.HeapIndex);
        }
        else
        {
            // A later key than before unless moved earlier: try both, one is a no-op.
            SiftDown(SiftUp(timer.HeapIndex));
        }
    }

    /// <summary>Disarms <paramref name="timer"/>; a no-op when it is not armed.</summary>
    public void Remove(LoopTimer timer)
    {
        int index = timer.HeapIndex;
        if (index < 0 || index >= Count || _heap[index] != timer)
            return;
        timer.HeapIndex = -1;
        LoopTimer last = _heap[--Count];
        _heap[Count] = null!;
        if (index == Count)
            return;
        _heap[index] = last;
        last.HeapIndex = index;
        SiftDown(SiftUp(index));
    }

    /// <summary>The earliest armed timer, or null.</summary>
    public LoopTimer? Peek() => Count > 0 ? _heap[0] : null;

    /// <summary>Milliseconds until the earliest timer is due, rounded up so that a wait of that
    /// long never ends before it: 0 if overdue, -1 if none.</summary>
    public int NextTimeout(long now)
    {
        if (Count == 0)
            return -1;
        return (int)Math.Min(MonotonicClock.ToMillisecondsCeiling(_heap[0].Due - now), int.MaxValue);
    }

    /// <summary>Runs every timer due at <paramref name="now"/> that was armed before this call;
    /// callbacks may arm, re-arm and cancel timers. One armed by a callback waits for the next
    /// call even when already due, so a timer that re-arms itself with no delay cannot hold the
    /// loop here.</summary>
    public void RunDue(long now, Action<Exception> onError)
    {
        long armedBefore = _sequence;
        while (Count > 0)
        {
            LoopTimer timer = _heap[0];
            if (timer.Due > now || timer.Sequence > armedBefore)
                return;
            if (timer.PeriodTicks > 0)
            {
                long next = timer.Due + timer.PeriodTicks;
                if (next <= now)
                    next = now + timer.PeriodTicks;
                Arm(timer, next);
            }
            else
            {
                Remove(timer);
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

    private static bool Before(LoopTimer a, LoopTimer b) =>
        a.Due < b.Due || (a.Due == b.Due && a.Sequence < b.Sequence);

    /// <summary>Moves the timer at <paramref name="index"/> up to its place; returns it.</summary>
    private int SiftUp(int index)
    {
        LoopTimer timer = _heap[index];
        while (index > 0)
        {
            int parent = (index - 1) >> 1;
            LoopTimer above = _heap[parent];
            if (!Before(timer, above))
                break;
            _heap[index] = above;
            above.HeapIndex = index;
            index = parent;
        }
        _heap[index] = timer;
        timer.HeapIndex = index;
        return index;
    }

    private void SiftDown(int index)
    {
        LoopTimer timer = _heap[index];
        while (true)
        {
            int child = 2 * index + 1;
            if (child >= Count)
                break;
            if (child + 1 < Count && Before(_heap[child + 1], _heap[child]))
                child++;
            LoopTimer below = _heap[child];
            if (!Before(below, timer))
                break;
            _heap[index] = below;
            below.HeapIndex = index;
            index = child;
        }
        _heap[index] = timer;
        timer.HeapIndex = index;
    }
}
