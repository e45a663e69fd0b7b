using MonaAot.Lua.Native;
using MonaAot.Lua.Runtime;

namespace MonaAot.Modules;

/// <summary>
/// mona:toJSON(value), mona:fromJSON(text), mona.null and mona.array (docs/api.md, "JSON").
/// The codec is C (native/shim/mona_json.c): it walks the Lua stack itself, so a call allocates
/// nothing managed and raises its errors from C, never through a C# frame.
/// </summary>
public static class JsonModule
{
    /// <summary>Adds the JSON functions and values to <paramref name="mona"/>.</summary>
    public static void Install(ScriptRuntime runtime, MonaObject mona)
    {
        nint L = runtime.Vm.L;
        mona.Push();
        Shim.mona_json_install(L);
        LuaApi.lua_pop(L, 1);
    }
}
