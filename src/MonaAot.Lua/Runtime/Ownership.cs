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
}

/// <summary>
/// Which application owns a new object is explicit, never a "current application" set around
/// script calls: each application's environment has a <c>mona</c> of its own whose factories
/// (createTCPClient, setTimer, ...) carry the application as upvalue 3, so an object belongs to
/// the application whose code made it, whichever handler or timer that code runs in; an accepted
/// client takes its server's owner (docs/architecture.md, "Ownership"). Script calls cost nothing
/// for it.
/// </summary>
public static unsafe class Owners
{
    /// <summary>The pseudo-index of a factory's owner: a light userdata holding a GCHandle, or
    /// nothing for the global <c>mona</c>'s factories (code outside any application).</summary>
    public static readonly int Upvalue = LuaApi.lua_upvalueindex(3);

    /// <summary>The owner of what the running factory makes.</summary>
    public static IResourceOwner? OfFactory(nint L)
    {
        void* handle = LuaApi.lua_touserdata(L, Upvalue);
        return handle == null ? null : (IResourceOwner?)GCHandle.FromIntPtr((nint)handle).Target;
    }
}
