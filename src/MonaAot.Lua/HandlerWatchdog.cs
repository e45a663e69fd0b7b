using System;
using MonaAot.Lua.Native;
using MonaAot.Reactor;

namespace MonaAot.Lua;

/// <summary>
/// [lua] handlerTimeout: a thread of its own (<see cref="PeriodicThread"/>) that looks at the
/// loop's script calls every quarter of the timeout and, when one call has been running the
/// whole timeout, arms the shim's stop hook for it (mona_guard.h), which raises the error on the
/// loop thread. That thread touches no Lua state: it reads two counters and writes one.
/// </summary>
public sealed unsafe class HandlerWatchdog : IDisposable
{
    private const int TicksPerTimeout = 4;
    private readonly nint _L;
    private readonly PeriodicThread _timer;
    private readonly object _gate = new();
    private ulong _seen;
    private int _ticks;
    private bool _disposed;

    public HandlerWatchdog(LuaVm vm, int timeoutSeconds)
    {
        _L = vm.L;
        Shim.mona_guard_install(_L, timeoutSeconds); // before any script runs, so coroutines inherit it
        int period = timeoutSeconds * 1000 / TicksPerTimeout;
        _timer = new PeriodicThread("lua watchdog", TimeSpan.FromMilliseconds(period), Tick);
    }

    private void Tick()
    {
        lock (_gate) // never after Dispose: the state may be closed by then
        {
            if (_disposed)
                return;
            fixed (ulong* seen = &_seen)
            fixed (int* ticks = &_ticks)
                Shim.mona_watchdog_tick(_L, seen, ticks, TicksPerTimeout);
        }
    }

    public void Dispose()
    {
        lock (_gate)
            _disposed = true;
        _timer.Dispose();
    }
}
