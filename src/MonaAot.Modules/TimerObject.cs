using System;
using System.Runtime.InteropServices;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Lua.Runtime;
using MonaAot.Reactor;

namespace MonaAot.Modules;

/// <summary>
/// Timer (docs/api.md, "Timer"): what mona:setTimer returns. Its function lives in user value 2 of
/// its userdata, so that only the userdata keeps it alive: a function that captures its own timer
/// makes a cycle the Lua GC can collect once the timer is stopped and dropped. While armed, a
/// registry reference (<see cref="ScriptObject.Retain"/>) keeps the userdata, and the timer belongs
/// to the application whose mona:setTimer made it. The loop holds one <see cref="LoopTimer"/> per object, made
/// once with one delegate, and re-armed in place: firing allocates nothing.
/// </summary>
public sealed unsafe class TimerObject : ScriptObject
{
    /// <summary>The largest delay, in milliseconds (about 24.8 days).</summary>
    public const long MaxDelayMs = int.MaxValue;

    private readonly LoopTimer _timer;
    private long _armedAt; // MonotonicClock ticks: elapsed counts from here
    private int _calls;    // fn calls in progress on this timer (fn may call setTimer(timer))

    internal TimerObject(TimerModule module, IResourceOwner? owner) : base(module.Runtime, owner) =>
        _timer = module.Runtime.Loop.CreateTimer(OnDue);

    internal static ScriptType CreateType(ScriptRuntime runtime) =>
        new(runtime, "Timer",
            [("nextRaising", (nint)(delegate* unmanaged<nint, int>)&NextRaising)],
            [],
            [],
            &Index, &ToText, userValues: 2);

    /// <summary>setTimer(timer, ms): arms the timer whose userdata is at <paramref name="index"/>
    /// for <paramref name="ms"/> from now; 0 stops it.</summary>
    internal void Set(nint L, int index, long ms)
    {
        if (ms == 0)
        {
            Stop();
            return;
        }
        Retain(L, index);
        ArmFor(ms);
    }

    /// <summary>setTimer(fn) or setTimer(timer) without a delay: calls fn now with elapsed 0
    /// and arms the timer with its answer (MonaServer2's rule).</summary>
    internal void CallNow(nint L, int index)
    {
        Disarm();
        Retain(L, index);
        Call(0);
    }

    private void ArmFor(long ms)
    {
        if (!_timer.IsArmed)
            Runtime.ArmedTimers++;
        _armedAt = MonotonicClock.Timestamp();
        Runtime.Loop.Restart(_timer, ms);
    }

    private void Disarm()
    {
        if (!_timer.IsArmed)
            return;
        _timer.Cancel();
        Runtime.ArmedTimers--;
    }

    /// <summary>Stopped: the registry reference goes unless fn is running (then
    /// <see cref="Call"/> lets it go when fn returns, if nothing re-armed the timer).</summary>
    private void Stop()
    {
        Disarm();
        if (_calls == 0)
            Release();
    }

    /// <summary>The loop's callback: the queue has already disarmed it.</summary>
    private void OnDue()
    {
        Runtime.ArmedTimers--;
        Call(MonotonicClock.ToMillisecondsFloor(MonotonicClock.Timestamp() - _armedAt));
    }

    /// <summary>
    /// Calls fn(elapsed). The answer decides (docs/api.md, "What fn's
    /// answer does"; MonaServer2's rule): a number of at least 1 re-arms for that many milliseconds
    /// (rounded up, at most <see cref="MaxDelayMs"/>); anything else stops the timer, whatever
    /// setTimer(timer, ...) fn made meanwhile. An error is logged and stops the timer.
    /// </summary>
    private void Call(long elapsed)
    {
        if (SelfRef == LuaApi.LUA_NOREF)
            return;
        double next;
        _calls++;
        int called = Shim.mona_calltimer(Runtime.Vm.L, SelfRef, elapsed, &next);
        _calls--;
        if (called < 0)
            Runtime.LogScriptError();
        if (called >= 0 && next >= 1 && SelfRef != LuaApi.LUA_NOREF) // not closed by its application meanwhile
            ArmFor((long)Math.Ceiling(Math.Min(next, MaxDelayMs)));
        else
            Disarm();
        if (!_timer.IsArmed && _calls == 0)
            Release();
    }

    /// <summary>The wall-clock time (ms since the epoch, as mona:time()) of its next firing,
    /// 0 when stopped; rounded up, as the timer never fires before it.</summary>
    private long NextRaisingTime()
    {
        if (!_timer.IsArmed)
            return 0;
        return DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + MillisecondsLeft();
    }

    private long MillisecondsLeft() => MonotonicClock.ToMillisecondsCeiling(_timer.Due - MonotonicClock.Timestamp());

    /// <summary>Its application stops or reloads: stopped, fn never called again.</summary>
    public override void Close()
    {
        Disarm();
        Release();
    }

    public override void Collect() => Disarm(); // unreachable while armed; for completeness

    [UnmanagedCallersOnly]
    private static int NextRaising(nint L) => HostFunction.Method<TimerObject>(L, &NextRaising);

    private static int NextRaising(nint L, TimerObject timer)
    {
        LuaApi.lua_pushinteger(L, timer.NextRaisingTime());
        return 1;
    }

    // Answers the properties listed in CreateType (ScriptType.Properties): a property added or
    // removed here must be added or removed there and in docs/api.md (Docs/ApiReferenceTests).
    [UnmanagedCallersOnly]
    private static int Index(nint L) => HostFunction.Function(L, &ScriptType.IndexFields);

    /// <summary>"Timer (armed, 250 ms left)" or "Timer (stopped)".</summary>
    [UnmanagedCallersOnly]
    private static int ToText(nint L) => HostFunction.Method<TimerObject>(L, &ToText);

    private static int ToText(nint L, TimerObject timer)
    {
        LuaStrings.Push(L, timer._timer.IsArmed ? $"Timer (armed, {timer.MillisecondsLeft()} ms left)" : "Timer (stopped)");
        return 1;
    }
}
