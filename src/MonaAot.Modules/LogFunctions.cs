using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MonaAot.Lua;
using MonaAot.Diagnostics;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Lua.Runtime;

namespace MonaAot.Modules;

/// <summary>
/// The global log functions FATAL .. TRACE (docs/api.md, "Log functions"): arguments concatenated
/// without separator (nil as "(null)", booleans as "(true)"/"(false)"), recorded with the calling
/// script's file and line. One host function serves all levels; the level is upvalue 3.
/// </summary>
public static unsafe class LogFunctions
{
    private static readonly (string Name, LogLevel Level)[] Levels =
    [
        ("FATAL", LogLevel.Fatal), ("CRITIC", LogLevel.Critic), ("ERROR", LogLevel.Error), ("WARN", LogLevel.Warn),
        ("NOTE", LogLevel.Note), ("INFO", LogLevel.Info), ("DEBUG", LogLevel.Debug), ("TRACE", LogLevel.Trace),
    ];

    public static void Install(LuaVm vm, Logger logger)
    {
        GCHandle context = vm.Keep(logger);
        nint L = vm.L;
        LuaApi.lua_pushglobaltable(L);
        foreach ((string name, LogLevel level) in Levels)
        {
            LuaStrings.Push(L, name);
            LuaApi.lua_pushlightuserdata(L, (void*)GCHandle.ToIntPtr(context));
            LuaApi.lua_pushinteger(L, (long)level);
            HostFunction.Push(L, &Log, upvalues: 2);
            LuaApi.lua_rawset(L, -3);
        }
        LuaApi.lua_pop(L, 1);
    }

    [UnmanagedCallersOnly]
    private static int Log(nint L) => HostFunction.Function<Logger>(L, &Log);

    private static int Log(nint L, Logger logger)
    {
        var level = (LogLevel)LuaApi.lua_tointegerx(L, LuaApi.lua_upvalueindex(3), null);
        if (!logger.IsEnabled(level))
            return 0;
        // The first Lua function up the stack: pcall(INFO, ...) names the line of the pcall.
        ScriptPosition at = ScriptRuntime.CallerPosition(L);
        // A failing __tostring is the script's error: raise it at the call.
        if (Shim.mona_logtext(L, LuaApi.lua_gettop(L)) != LuaApi.LUA_OK)
            return Shim.MONA_RAISE;
        logger.Log(level, at.File, at.Line, LuaStrings.ToText(L, -1) ?? "");
        return 0;
    }
}
