using System;
using System.Collections.Concurrent;
using System.Threading;

namespace MonaAot.Reactor;

/// <summary>
/// The reactor: one thread runs <see cref="Run"/> and owns everything attached to the loop (the
/// Lua state, the sockets). Other threads reach it only through <see cref="Post"/>, which wakes
/// the backend (eventfd on Linux). Each turn: wait for I/O or the next timer, dispatch I/O, run
/// posted work, run due timers. Its backend is the one of the build's platform, chosen at
/// compile time (EventLoop.Unix.cs: epoll, EventLoop.Windows.cs: IOCP); this file reaches it
/// only through the <see cref="IIoBackend"/> seam both share.
/// </summary>
public sealed partial class EventLoop : IDisposable
{
    private readonly HandleTable _handles = new();
    private readonly TimerQueue _timers = new();
    private readonly ConcurrentQueue<Action> _posted = new();
    private readonly IoEvent[] _events = new IoEvent[256];
    private int _wakePending;
    private Action[] _beforeWait = [];
    private long _ioEvents;
    private volatile bool _disposed;
    private volatile bool _stopRequested;
    private Thread? _thread;

    /// <summary>Reports an exception that escaped a callback; the loop carries on.</summary>
    public Action<Exception> UnhandledException { get; set; } = static _ => { };

    /// <summary>I/O events dispatched since the loop was made: what tells a busy loop from an
    /// idle one without a per-turn clock read (the idle trim, docs/architecture.md, "Memory
    /// upkeep"). Loop thread only.</summary>
    public long IoEventCount => _ioEvents;

    /// <summary>What the loop's users keep for reuse (pools of connections, of clients): the idle
    /// trim drops it (docs/architecture.md, "Memory upkeep"). Loop thread only.</summary>
    public MonaAot.Collections.SpareObjects Spares { get; } = new();

    /// <summary>Adds <paramref name="hook"/> to what runs at the start of every turn, before the
    /// loop computes its timeout and waits: upkeep that must happen outside any callback (the Lua
    /// collector's step for the objects released during the last turn), which may arm timers.
    /// It runs on every turn, busy or not, so it must cost a branch when it has nothing to do
    /// and allocate nothing. Loop thread only, before or during <see cref="Run"/>.</summary>
    public void AddBeforeWait(Action hook) => _beforeWait = [.. _beforeWait, hook];

    /// <summary>Monotonic milliseconds, on the timers' clock (<see cref="MonotonicClock"/>).</summary>
    public static long Now => MonotonicClock.Milliseconds;

    public bool IsLoopThread => Thread.CurrentThread == _thread;

    /// <summary>The backend, as the seam: what the loop and the shared socket code use of it.</summary>
    public IIoBackend Backend => _backend;

    public HandleTable Handles => _handles;

    /// <summary>Runs <paramref name="callback"/> on the loop after <paramref name="delayMs"/>, then
    /// every <paramref name="periodMs"/> if positive. Loop thread only.</summary>
    public LoopTimer Schedule(long delayMs, long periodMs, Action callback)
    {
        LoopTimer timer = _timers.Create(callback, periodMs > 0 ? TicksOf(periodMs) : 0);
        Restart(timer, delayMs);
        return timer;
    }

    /// <summary>A timer that is not armed yet, for <see cref="Restart"/>. Loop thread only.</summary>
    public LoopTimer CreateTimer(Action callback) => _timers.Create(callback);

    /// <summary>Arms <paramref name="timer"/> (armed or not) for <paramref name="delayMs"/> from
    /// now, clamped to 0..int.MaxValue; O(log n), allocates nothing. Loop thread only.</summary>
    public void Restart(LoopTimer timer, long delayMs) => _timers.Arm(timer, MonotonicClock.Timestamp() + TicksOf(delayMs));

    /// <summary>Timers armed now.</summary>
    public int ArmedTimers => _timers.Count;

    private static long TicksOf(long ms) => MonotonicClock.TicksFromMilliseconds(Math.Clamp(ms, 0, int.MaxValue));

    /// <summary>Queues <paramref name="action"/> to run on the loop thread. Any thread. Once the
    /// loop is disposed the action is dropped: a late resolver or mail continuation finds
    /// nothing to run on, and the backend's wake is a no-op then as well, also when this check
    /// races with <see cref="Dispose"/>.</summary>
    public void Post(Action action)
    {
        if (_disposed)
            return;
        _posted.Enqueue(action);
        // The loop's own posts need no wake: one made while dispatching runs in this turn's
        // RunPosted, any other makes the next wait's timeout 0 (RunOnce). Waking there cost an
        // eventfd write and read per turn in which a connection closed (docs/performance.md,
        // "Issue 19: CPU per message").
        if (Thread.CurrentThread == _thread)
            return;
        if (Interlocked.Exchange(ref _wakePending, 1) == 0)
            Backend.Wake();
    }

    /// <summary>Makes <see cref="Run"/> return after the current turn. Any thread.</summary>
    public void Stop()
    {
        _stopRequested = true;
        if (_disposed)
            return;
        Backend.Wake();
    }

    /// <summary>Runs the loop on the calling thread until <see cref="Stop"/>.</summary>
    public void Run()
    {
        _thread = Thread.CurrentThread;
        _stopRequested = false;
        while (!_stopRequested)
            RunOnce();
    }

    private void RunOnce()
    {
        RunBeforeWait();
        int timeout = _posted.IsEmpty ? _timers.NextTimeout(MonotonicClock.Timestamp()) : 0;
        int count = Backend.Wait(_events, timeout);
        _ioEvents += count;
        for (int i = 0; i < count; i++)
            Dispatch(in _events[i]);
        RunPosted();
        _timers.RunDue(MonotonicClock.Timestamp(), UnhandledException);
    }

    private void RunBeforeWait()
    {
        foreach (Action hook in _beforeWait)
        {
            try
            {
                hook();
            }
            catch (Exception e)
            {
                UnhandledException(e);
            }
        }
    }

    private void Dispatch(in IoEvent ev)
    {
        // A stale token (its handle was removed during this turn) finds nothing and is dropped.
        IIoHandler? handler = _handles.Find(ev.Token);
        if (handler is null)
        {
            Backend.Discard(in ev);
            return;
        }
        try
        {
            handler.OnIo(in ev);
        }
        catch (Exception e)
        {
            UnhandledException(e);
        }
    }

    private void RunPosted()
    {
        Volatile.Write(ref _wakePending, 0);
        // Only what was queued before this point runs now, so a post that posts again cannot
        // starve I/O.
        int count = _posted.Count;
        while (count-- > 0 && _posted.TryDequeue(out Action? action))
        {
            try
            {
                action();
            }
            catch (Exception e)
            {
                UnhandledException(e);
            }
        }
    }

    /// <summary>Closes the backend, once the loop has stopped. Posts and wakes after this do
    /// nothing.</summary>
    public void Dispose()
    {
        _disposed = true;
        Backend.Dispose();
    }
}
