using MonaAot.Lua.Native;
using MonaAot.Net;

namespace MonaAot.Lua.Runtime;

/// <summary>
/// The C# side of a Lua-visible object (TCPClient, TCPServer, ...). The Lua userdata holds no
/// reference to it, only the 28-byte mona_handle block (native/shim/mona_binding.h): its id,
/// generation and type, and the direct-write gate <see cref="Gate"/> points at; while the
/// object is active (connected, listening) a registry reference keeps the userdata alive even
/// when the script drops it (docs/api.md, "Conventions", lifetime).
/// </summary>
public abstract unsafe class ScriptObject : IOwnedResource
{
    /// <param name="owner">The application whose <c>mona</c> made it (null outside any
    /// application), see <see cref="Owners"/>.</param>
    protected ScriptObject(ScriptRuntime runtime, IResourceOwner? owner)
    {
        Runtime = runtime;
        Owner = owner;
    }

    public ScriptRuntime Runtime { get; }
    public int Id { get; internal set; }
    public int Generation { get; internal set; }

    /// <summary>The <see cref="DirectWriteGate"/> inside its userdata's block (fd, direct,
    /// partial, sends of mona_handle), from creation until __gc.</summary>
    public DirectWriteGate* Gate { get; internal set; }

    /// <summary>Registry reference to the userdata while active, else LUA_NOREF.</summary>
    public int SelfRef { get; private set; } = LuaApi.LUA_NOREF;

    /// <summary>The application it belongs to, fixed when it is made (a pooled object: when it
    /// is taken again, and null while it waits in the pool, see <see cref="Reinitialize"/>); it
    /// holds the object (<see cref="IResourceOwner.Track"/>) while the object is active.</summary>
    public IResourceOwner? Owner { get; private set; }

    private bool _tracked;

    /// <summary>Keeps the userdata at <paramref name="index"/> alive and lets its application
    /// close it. Idempotent.</summary>
    protected void Retain(nint L, int index)
    {
        if (SelfRef == LuaApi.LUA_NOREF)
        {
            LuaApi.lua_pushvalue(L, index);
            SelfRef = LuaApi.luaL_ref(L, LuaApi.LUA_REGISTRYINDEX);
        }
        if (!_tracked && Owner is not null)
        {
            Owner.Track(this);
            _tracked = true;
        }
    }

    /// <summary>Lets the GC have the userdata again once the script drops it; the collector is
    /// told (<see cref="LuaVm.NoteReleased"/>), as it may be garbage now.</summary>
    protected void Release()
    {
        if (SelfRef != LuaApi.LUA_NOREF)
        {
            LuaApi.luaL_unref(Runtime.Vm.L, LuaApi.LUA_REGISTRYINDEX, SelfRef);
            SelfRef = LuaApi.LUA_NOREF;
            Runtime.Vm.NoteReleased();
        }
        if (_tracked)
        {
            Owner!.Untrack(this);
            _tracked = false;
        }
    }

    /// <summary>Kept alive by a registry reference or tracked by its application. When neither
    /// holds it, nothing refers to it once its userdata is collected.</summary>
    protected bool IsHeld => SelfRef != LuaApi.LUA_NOREF || _tracked;

    /// <summary>For a pooled object taken again (docs/architecture.md, "Connection pooling"):
    /// it belongs to <paramref name="owner"/> now; its next <see cref="ScriptType.Push"/> gives
    /// it a new id, generation and gate. A pool passes null when it keeps the object, so that a
    /// spare does not keep its last application alive.</summary>
    protected void Reinitialize(IResourceOwner? owner)
    {
        System.Diagnostics.Debug.Assert(!IsHeld && Gate == null);
        Owner = owner;
    }

    /// <summary>After <see cref="Collect"/>, once its id is freed: no Lua value can reach it
    /// any more, so a type that pools its objects may keep it for reuse here.</summary>
    public virtual void Collected()
    {
    }

    /// <summary>The application stops or reloads: end everything, call no handler.</summary>
    public abstract void Close();

    /// <summary>The userdata is being collected (__gc): nothing refers to it any more.</summary>
    public abstract void Collect();
}
