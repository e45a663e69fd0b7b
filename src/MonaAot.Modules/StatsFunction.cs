using System;
using System.Runtime.InteropServices;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Lua.Runtime;

namespace MonaAot.Modules;

/// <summary>
/// mona:stats(): counters a script (or a test) can watch: connections, bytesReceived,
/// bytesSent, and the managed heap's managedAllocatedBytes and gcCollections, which prove that
/// the per-message path allocates nothing; timers is the number of Lua timers armed.
/// </summary>
public static unsafe class StatsFunction
{
    /// <summary>Adds stats to <paramref name="mona"/>.</summary>
    public static void Install(ScriptRuntime runtime, MonaObject mona) =>
        mona.AddFunction("stats", &Stats, runtime.Vm.Keep(runtime));

    [UnmanagedCallersOnly]
    private static int Stats(nint L) => HostFunction.Function<ScriptRuntime>(L, &Stats);

    private static int Stats(nint L, ScriptRuntime runtime)
    {
        LuaApi.lua_createtable(L, 0, 8);
        SetInteger(L, "connections"u8, runtime.Net.Stats.Connections);
        SetInteger(L, "bytesReceived"u8, runtime.Net.Stats.BytesReceived);
        SetInteger(L, "bytesSent"u8, runtime.Net.Stats.BytesSent);
        SetInteger(L, "managedAllocatedBytes"u8, GC.GetTotalAllocatedBytes(precise: true));
        SetInteger(L, "gcCollections"u8, GC.CollectionCount(0));
        SetInteger(L, "managedHeapBytes"u8, GC.GetTotalMemory(forceFullCollection: false));
        SetInteger(L, "luaMemoryBytes"u8, runtime.Vm.MemoryInUse);
        SetInteger(L, "timers"u8, runtime.ArmedTimers);
        return 1;
    }

    private static void SetInteger(nint L, ReadOnlySpan<byte> key, long value)
    {
        LuaStrings.Push(L, key);
        LuaApi.lua_pushinteger(L, value);
        LuaApi.lua_rawset(L, -3);
    }
}
