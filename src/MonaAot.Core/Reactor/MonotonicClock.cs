using System.Diagnostics;

namespace MonaAot.Reactor;

/// <summary>
/// The loop's clock: <see cref="Stopwatch.GetTimestamp"/> (CLOCK_MONOTONIC on Linux, QPC on
/// Windows), never the wall clock, so changing the system time moves no timer. Not
/// <see cref="System.Environment.TickCount64"/>: on Linux that is CLOCK_MONOTONIC_COARSE, which
/// steps by a scheduler tick (about 4 ms), so a timer checked against it could run up to a tick
/// before its delay has passed as a precise observer measures it.
/// </summary>
public static class MonotonicClock
{
    /// <summary>Ticks per second of <see cref="Timestamp"/>.</summary>
    public static readonly long Frequency = Stopwatch.Frequency;

    /// <summary>Now, in ticks of <see cref="Frequency"/>.</summary>
    public static long Timestamp() => Stopwatch.GetTimestamp();

    /// <summary>Now, in whole milliseconds (since boot on Linux).</summary>
    public static long Milliseconds => ToMillisecondsFloor(Stopwatch.GetTimestamp());

    /// <summary>The ticks of <paramref name="ms"/> milliseconds, rounded up: a delay converted
    /// to ticks is never shorter than asked. <paramref name="ms"/> at most int.MaxValue keeps
    /// the product below 2^63 for any frequency up to 4 GHz.</summary>
    public static long TicksFromMilliseconds(long ms) => (ms * Frequency + 999) / 1000;

    /// <summary>Whole milliseconds in <paramref name="ticks"/>, rounded down (an elapsed time
    /// never reads longer than it was). Split so that a large value cannot overflow.</summary>
    public static long ToMillisecondsFloor(long ticks) =>
        ticks / Frequency * 1000 + ticks % Frequency * 1000 / Frequency;

    /// <summary>Whole milliseconds in <paramref name="ticks"/>, rounded up (a wait that ends
    /// no earlier than the deadline). Non-positive ticks give 0.</summary>
    public static long ToMillisecondsCeiling(long ticks)
    {
        if (ticks <= 0)
            return 0;
        long ms = ToMillisecondsFloor(ticks);
        return TicksFromMilliseconds(ms) < ticks ? ms + 1 : ms;
    }
}
