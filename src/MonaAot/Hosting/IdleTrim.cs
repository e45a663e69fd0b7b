using System;
using MonaAot.Diagnostics;
using MonaAot.Lua;
using MonaAot.Reactor;

namespace MonaAot.Hosting;

/// <summary>
/// Gives memory back once load stops (docs/architecture.md, "Memory upkeep"): after a busy
/// period (at least <see cref="BusyEvents"/> I/O events since the last trim), once a whole
/// <see cref="QuietMs"/> window has passed without any I/O event, it does, once: a full Lua
/// collection, the Lua allocator's free lists and malloc's free pages back to the system
/// (<see cref="LuaVm.Trim"/>), and a managed collection that compacts and decommits
/// (GCCollectionMode.Aggressive). A busy loop never trims: the check is a timer armed by the
/// first event after a trim and re-armed while events keep coming, so an idle process is not
/// woken either; per turn it costs one comparison.
/// </summary>
public sealed class IdleTrim
{
    /// <summary>The quiet window that ends a busy period.</summary>
    public const int QuietMs = 1000;

    /// <summary>I/O events since the last trim that make a busy period: below it (a probe now
    /// and then) nothing grew enough to be worth a full collection.</summary>
    public const long BusyEvents = 1000;

    private readonly EventLoop _loop;
    private readonly LuaVm _vm;
    private readonly Logger _logger;
    private readonly LoopTimer _timer;
    private long _trimmedAt; // IoEventCount at the last trim
    private long _seen;      // IoEventCount when the timer was last armed
    private long _committedFloor; // managed bytes committed at the start or after the last managed trim

    /// <summary>Managed bytes committed beyond <see cref="_committedFloor"/> that make a trim
    /// collect the managed heap too.</summary>
    public const long ManagedGrowth = 1 << 20;

    public IdleTrim(EventLoop loop, LuaVm vm, Logger logger)
    {
        _loop = loop;
        _vm = vm;
        _logger = logger;
        _timer = loop.CreateTimer(OnQuietCheck);
        _trimmedAt = loop.IoEventCount;
        _committedFloor = GC.GetGCMemoryInfo().TotalCommittedBytes;
        loop.AddBeforeWait(ArmWhenBusy);
    }

    /// <summary>Trims done so far.</summary>
    public int Trims { get; private set; }

    private void ArmWhenBusy()
    {
        if (_timer.IsArmed || _loop.IoEventCount - _trimmedAt < BusyEvents)
            return;
        _seen = _loop.IoEventCount;
        _loop.Restart(_timer, QuietMs);
    }

    private void OnQuietCheck()
    {
        long events = _loop.IoEventCount;
        if (events != _seen)
        {
            _seen = events; // still busy: look again one window later
            _loop.Restart(_timer, QuietMs);
            return;
        }
        _trimmedAt = events;
        Trim();
    }

    /// <summary>
    /// The trim itself; on the loop thread, outside any callback of an object. The managed
    /// collection runs only when the managed heap has committed <see cref="ManagedGrowth"/> more
    /// than the last trim (or the start) left: a collection is not free in resident memory
    /// either (the first one of a process reads about 1 MiB of the binary's code and unwind
    /// tables), so a load that allocated nothing managed (a UDP stream) is not made to pay it.
    /// </summary>
    public void Trim()
    {
        long committed = GC.GetGCMemoryInfo().TotalCommittedBytes;
        (long luaBefore, long luaAfter) = _vm.Trim();
        bool managed = committed > _committedFloor + ManagedGrowth;
        if (managed)
        {
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            _committedFloor = GC.GetGCMemoryInfo().TotalCommittedBytes;
        }
        Trims++;
        if (_logger.IsEnabled(LogLevel.Debug))
            _logger.Debug($"trimmed: Lua heap {luaBefore} -> {luaAfter} bytes, managed heap committed {committed} -> {(managed ? _committedFloor.ToString() : "(not collected)")} bytes");
    }
}
