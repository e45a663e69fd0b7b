using System;
using System.Runtime.InteropServices;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Lua.Runtime;

namespace MonaAot.Modules;

/// <summary>
/// mona:setTimer (docs/api.md, "Timer"; MonaServer2's API): installs the Timer type and setTimer on
/// the mona table. This object is the context (upvalue 2) of setTimer, the owner of the timers it
/// makes upvalue 3 (<see cref="Owners"/>); the Timer type's methods have the type as theirs.
/// </summary>
public sealed unsafe class TimerModule
{
    private TimerModule(ScriptRuntime runtime) => Runtime = runtime;

    public ScriptRuntime Runtime { get; }
    public ScriptType TimerType { get; private set; } = null!;

    /// <summary>Adds setTimer to <paramref name="mona"/>.</summary>
    public static TimerModule Install(ScriptRuntime runtime, MonaObject mona)
    {
        var module = new TimerModule(runtime);
        GCHandle context = runtime.Vm.Keep(module);
        module.TimerType = TimerObject.CreateType(runtime);
        mona.AddFactory("setTimer", &SetTimer, context);
        return module;
    }

    /// <summary>
    /// mona:setTimer(fn, ms) arms a new timer; mona:setTimer(timer, ms) re-arms one (0 stops
    /// it); without ms, fn runs now and its answer arms the timer. Returns the timer. Every
    /// argument is checked before anything is made or armed.
    /// </summary>
    [UnmanagedCallersOnly]
    private static int SetTimer(nint L) => HostFunction.Function<TimerModule>(L, &SetTimer);

    private static int SetTimer(nint L, TimerModule module)
    {
        // mona.setTimer(fn, ms) (a dot for a colon) would otherwise read fn as self and
        // report the delay as the wrong type, which points the reader the wrong way.
        if (LuaApi.lua_type(L, 1) != LuaApi.LUA_TTABLE)
            return HostFunction.ArgError(L, 1, $"mona expected, got {LuaStrings.TypeName(L, 1)} (call it as mona:setTimer)");
        TimerObject? timer = null;
        if (LuaApi.lua_type(L, 2) != LuaApi.LUA_TFUNCTION && module.TimerType.Check(L, 2, out TimerObject existing, out _))
        {
            timer = existing;
        }
        else if (LuaApi.lua_type(L, 2) != LuaApi.LUA_TFUNCTION)
        {
            LuaApi.lua_pop(L, 1); // Check's own detail ("Timer expected")
            return HostFunction.TypeError(L, 2, "function or Timer");
        }
        bool now = Args.IsNoneOrNil(L, 3);
        long ms = 0;
        if (!now && !Delay(L, 3, out ms, out int error))
            return error;
        int self = 2;
        if (timer is null)
        {
            timer = new TimerObject(module, Owners.OfFactory(L));
            module.TimerType.Push(L, timer);   // ... timer
            LuaApi.lua_pushvalue(L, 2);
            LuaApi.lua_setiuservalue(L, -2, 2); // fn, reachable only through the timer
            self = LuaApi.lua_gettop(L);
        }
        if (now)
            timer.CallNow(L, self);
        else
            timer.Set(L, self, ms);
        LuaApi.lua_pushvalue(L, self);
        return 1;
    }

    /// <summary>A delay in milliseconds: a number (numeric strings accepted, as Lua does) from
    /// 0 to <see cref="TimerObject.MaxDelayMs"/>; a fraction is rounded up, so that a timer
    /// never fires before the delay asked.</summary>
    private static bool Delay(nint L, int arg, out long ms, out int error)
    {
        ms = 0;
        if (!Args.Number(L, arg, out double value, out error))
            return false;
        if (!(value >= 0 && value <= TimerObject.MaxDelayMs))
        {
            error = HostFunction.ArgError(L, arg, $"delay out of range (0 to {TimerObject.MaxDelayMs} ms, got {FormatNumber(value)})");
            return false;
        }
        ms = (long)Math.Ceiling(value);
        return true;
    }

    private static string FormatNumber(double value) =>
        double.IsNaN(value) ? "nan" : value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
