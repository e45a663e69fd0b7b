using System.Runtime.InteropServices;
using MonaAot.Lua.Native;

namespace MonaAot.Lua.Runtime;

/// <summary>Something an application owns that must end with it: its sockets and mails.</summary>
public interface IOwnedResource
{
    /// <summary>Closes without calling script handlers (the application is stopping).</summary>
    void Close();
}

/// <summary>An application, as the objects it creates see it.</summary>
public interface IResourceOwner
{
    void Track(IOwnedResource resource);

    void Untrack(IOwnedResource resource);

    /// <summary>The folder a relative path given by its scripts starts from (a TLS certificate
    /// file); null: the www folder.</summary>
    string? Folder => null;
}

/// <summary>
/// Which application owns a new object is explicit, never a "current application" set around
/// script calls: each application's environment has a <c>mona</c> of its own whose factories
/// (createTCPClient, setTimer, ...) carry the application as upvalue 3, so an object belongs to
/// the application whose code made it, whichever handler or timer that code runs in; an accepted
/// client takes its server's owner (docs/architecture.md, "Ownership"). Script calls cost nothing
/// for it. Library code (a module <c>require</c> finds on Lua's paths, a chunk of <c>load</c>;
/// a module found in www runs in its application's environment) runs in the global table and
/// reaches the global <c>mona</c>, whose factories carry no owner: what it makes belongs to the
/// application whose code called it, the innermost function on the call stack that runs in an
/// application's environment (<see cref="RegisterEnvironment"/>), found when the object is made.
/// </summary>
public static unsafe class Owners
{
    /// <summary>The pseudo-index of a factory's owner: a light userdata holding a GCHandle, or
    /// nothing for the global <c>mona</c>'s factories.</summary>
    public static readonly int Upvalue = LuaApi.lua_upvalueindex(3);

    /// <summary>The registry key (a light userdata: an address no one else has) of the table
    /// from each application's environment to its owner's GCHandle.</summary>
    private static readonly void* EnvironmentsKey = NativeMemory.Alloc(1);

    /// <summary>Makes the environment at <paramref name="index"/> the one whose functions'
    /// library calls make objects <paramref name="owner"/> owns.</summary>
    public static void RegisterEnvironment(nint L, int index, GCHandle owner)
    {
        index = LuaApi.lua_absindex(L, index);
        if (LuaApi.lua_rawgetp(L, LuaApi.LUA_REGISTRYINDEX, EnvironmentsKey) != LuaApi.LUA_TTABLE)
        {
            LuaApi.lua_pop(L, 1);
            LuaApi.lua_newtable(L);
            LuaApi.lua_pushvalue(L, -1);
            LuaApi.lua_rawsetp(L, LuaApi.LUA_REGISTRYINDEX, EnvironmentsKey);
        }
        LuaApi.lua_pushvalue(L, index);
        LuaApi.lua_pushlightuserdata(L, (void*)GCHandle.ToIntPtr(owner));
        LuaApi.lua_rawset(L, -3);
        LuaApi.lua_pop(L, 1);
    }

    /// <summary>The owner of what the running factory makes: its own (upvalue 3), else that of
    /// the application code that called the library code calling it; null outside any
    /// application (tests).</summary>
    public static IResourceOwner? OfFactory(nint L)
    {
        void* handle = LuaApi.lua_touserdata(L, Upvalue);
        if (handle == null)
            handle = OfCaller(L);
        return handle == null ? null : (IResourceOwner?)GCHandle.FromIntPtr((nint)handle).Target;
    }

    private static void* OfCaller(nint L)
    {
        void* handle = null;
        if (LuaApi.lua_rawgetp(L, LuaApi.LUA_REGISTRYINDEX, EnvironmentsKey) == LuaApi.LUA_TTABLE
            && Shim.mona_callerowner(L, -1) != 0)
        {
            handle = LuaApi.lua_touserdata(L, -1);
            LuaApi.lua_pop(L, 1);
        }
        LuaApi.lua_pop(L, 1);
        return handle;
    }
}
