using System;
using MonaAot.Diagnostics;
using MonaAot.Lua;
using MonaAot.Reactor;

namespace MonaAot.Hosting;

/// <summary>
/// Gives memory back once load drops (docs/architecture.md, "Memory upkeep"): a full Lua
/// collection, the Lua allocator's free lists and malloc's free pages back to the system
/// (<see cref="LuaVm.Trim"/>), the spare connections and clients (<see cref="EventLoop.Spares"/>),
/// and a managed collection that compacts and decommits (GCCollectionMode.Aggressive).
/// <para>
/// The trigger is "the load dropped", not "no I/O at all": a server with a heartbeat or a
/// metrics scrape sees some I/O every second and must still trim after a burst. While I/O
/// events come, a timer looks once every <see cref="WindowMs"/> at how many the last window had;
/// it trims when the load of that window dropped (no event at all; under
/// <see cref="QuietEvents"/> after a window of at least as many since the last trim; or under a
/// tenth of the busiest window since the last trim) and enough happened since the last trim to be
/// worth it (<see cref="BusyEvents"/> I/O events, or the Lua heap or the managed heap grew by
/// <see cref="HeapGrowth"/>), never within <see cref="MinIntervalMs"/> of the last trim. The
/// timer is armed by the first event after a window without any, so an idle process is not
/// woken; per loop turn it costs one comparison.
/// </para>
/// </summary>
public sealed class IdleTrim
{
    /// <summary>How often the load is looked at while I/O events come.</summary>
    public const int WindowMs = 1000;

    /// <summary>A window with fewer I/O events than this is quiet once a window since the last
    /// trim had at least as many (a heartbeat, a scrape, a few probes after a busy period). A
    /// load that never went above it is not a load that dropped: trimming there every
    /// <see cref="MinIntervalMs"/> would put a full collection of the live Lua heap on the loop
    /// again and again while the incremental collector keeps up (IdleTrimTests).</summary>
    public const long QuietEvents = 100;

    /// <summary>A window is quiet too when it had less than the busiest one since the last trim
    /// divided by this (a heavy load that dropped to a steady trickle).</summary>
    public const long DropFactor = 10;

    /// <summary>I/O events since the last trim that make it worth one: below it (a probe now and
    /// then) nothing grew enough to be worth a full collection, unless a heap grew.</summary>
    public const long BusyEvents = 1000;

    /// <summary>Growth of the Lua heap, or of the managed heap's committed bytes, since the last
    /// trim that makes one worth it however few events came (a short burst of big messages).
    /// Also what the managed heap must have grown for a trim to collect it.</summary>
    public const long HeapGrowth = 1 << 20;

    /// <summary>The least time between two trims: a load that comes and goes every other second
    /// is not made to pay a full collection each time.</summary>
    public const int MinIntervalMs = 5000;

    private readonly EventLoop _loop;
    private readonly LuaVm _vm;
    private readonly Logger _logger;
    private readonly LoopTimer _timer;
    private long _trimmedAt;       // IoEventCount at the last trim
    private long _windowStart;     // IoEventCount when the current window began
    private long _busiest;         // most events in one window since the last trim
    private long _lastTrimMs = long.MinValue / 2; // EventLoop.Now of the last trim
    private long _luaFloor;        // Lua heap bytes the last trim (or the start) left
    private long _committedFloor;  // managed bytes committed at the start or after the last managed trim

    public IdleTrim(EventLoop loop, LuaVm vm, Logger logger)
    {
        _loop = loop;
        _vm = vm;
        _logger = logger;
        _timer = loop.CreateTimer(OnWindowEnd);
        _trimmedAt = _windowStart = loop.IoEventCount;
        _luaFloor = vm.MemoryInUse;
        _committedFloor = GC.GetGCMemoryInfo().TotalCommittedBytes;
        loop.AddBeforeWait(ArmOnActivity);
    }

    /// <summary>Trims done so far.</summary>
    public int Trims { get; private set; }

    private void ArmOnActivity()
    {
        if (_timer.IsArmed || _loop.IoEventCount == _windowStart)
            return;
        _windowStart = _loop.IoEventCount;
        _loop.Restart(_timer, WindowMs);
    }

    private void OnWindowEnd()
    {
        long events = _loop.IoEventCount;
        long window = events - _windowStart;
        _windowStart = events;
        _busiest = Math.Max(_busiest, window);
        bool quiet = window == 0
                     || (window < QuietEvents && _busiest >= QuietEvents)
                     || window * DropFactor < _busiest;
        if (quiet && WorthTrimming(events))
        {
            long wait = _lastTrimMs + MinIntervalMs - EventLoop.Now;
            if (wait <= 0)
            {
                Trim();
                return; // the next event starts a new window
            }
            _loop.Restart(_timer, wait); // due once the interval is over, events or not
            return;
        }
        if (window > 0)
            _loop.Restart(_timer, WindowMs); // still active: look again one window later
    }

    private bool WorthTrimming(long events) =>
        events - _trimmedAt >= BusyEvents
        || _vm.MemoryInUse > _luaFloor + HeapGrowth
        || GC.GetGCMemoryInfo().TotalCommittedBytes > _committedFloor + HeapGrowth;

    /// <summary>
    /// The trim itself; on the loop thread, outside any callback of an object. The managed
    /// collection runs only when the managed heap has committed <see cref="HeapGrowth"/> more
    /// than the last trim (or the start) left: a collection is not free in resident memory
    /// either (the first one of a process reads about 1 MiB of the binary's code and unwind
    /// tables), so a load that allocated nothing managed (a UDP stream) is not made to pay it.
    /// </summary>
    public void Trim()
    {
        _trimmedAt = _windowStart = _loop.IoEventCount;
        _busiest = 0;
        _lastTrimMs = EventLoop.Now;
        long committed = GC.GetGCMemoryInfo().TotalCommittedBytes;
        (long luaBefore, long luaAfter) = _vm.Trim();
        _luaFloor = luaAfter;
        int spares = _loop.Spares.DropAll();
        bool managed = committed > _committedFloor + HeapGrowth;
        if (managed)
        {
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            _committedFloor = GC.GetGCMemoryInfo().TotalCommittedBytes;
        }
        Trims++;
        if (_logger.IsEnabled(LogLevel.Debug))
            _logger.Debug($"trimmed: Lua heap {luaBefore} -> {luaAfter} bytes, managed heap committed {committed} -> {(managed ? _committedFloor.ToString() : "(not collected)")} bytes, {spares} spare objects dropped");
    }
}
