using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MonaAot.Interop;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Net;

namespace MonaAot.Lua.Runtime;

/// <summary>
/// One Lua-visible type: its metatable (kept in the registry) with __index, __newindex,
/// __gc/__close, __tostring and a protected __metatable, and its methods table. Userdata are
/// the 28-byte mona_handle block (<see cref="Handle"/>: id, generation, type, then the
/// <see cref="DirectWriteGate"/> a TCPClient's direct send reads) with one user value: the
/// table where assignments land, which is how scripts attach handlers (docs/api.md, "Conventions"). A
/// type may ask for more user values, for Lua values that only its object's userdata should
/// keep alive (a Timer's function: a reference from the registry would keep a function that
/// captures its own timer, and so the timer, forever). The type itself is the context (upvalue
/// 2) of its methods and metamethods: <see cref="HostFunction.Method{T}"/> checks argument 1
/// against it.
/// </summary>
public sealed unsafe class ScriptType
{
    /// <summary>The userdata's block: mona_handle in native/shim/mona_binding.h, whose fd, direct,
    /// partial and sends are <see cref="Gate"/>, field for field. Every userdata carries the gate,
    /// so that the shim's direct send can check any self it is given by its size and tag; only a
    /// TCPClient's is ever shared with a connection (<see cref="TcpConnection.ShareGate"/>).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Handle
    {
        public int Id;
        public int Generation;
        public int Type; // which ScriptType made it: its metatable's registry reference
        public DirectWriteGate Gate;
    }

    /// <summary>Adds C#'s layout of the userdata block, under mona_probe.c's names, for the
    /// check at start (<see cref="NativeLayouts"/>).</summary>
    internal static void AddHandleFacts(List<LayoutFact> facts)
    {
        Handle handle = default;
        byte* start = (byte*)&handle;
        facts.Add(new LayoutFact("mona_handle", sizeof(Handle)));
        facts.Add(new LayoutFact("mona_handle.fd", (byte*)&handle.Gate.Fd - start));
        facts.Add(new LayoutFact("mona_handle.sends", (byte*)&handle.Gate.Sends - start));
    }

    private readonly int _metatableRef;
    private readonly int _userValues;
    private readonly ScriptRuntime _runtime;
    private Type? _class; // the one C# class of this type's objects, so Check needs no cast

    /// <param name="properties">The property names <paramref name="index"/> answers (and
    /// <paramref name="newIndex"/> may set), for the manual's test (docs/api.md); keep it in
    /// step with the Index function, which a test reads each of them through.</param>
    /// <param name="events">The handler names the type's objects call (onReception, ...), for
    /// the same test; Lua cannot enumerate them.</param>
    /// <param name="index">Called by __index for what is not a method: properties, then
    /// <see cref="IndexFields"/>.</param>
    /// <param name="directSend">The method that may send without entering C# (TCPClient's
    /// send: the shim's closure writes to the socket itself while the object's
    /// <see cref="DirectWriteGate"/> is open)...</param>
    /// <param name="directSendCounter">...and the counter it adds the bytes to.</param>
    /// <param name="userValues">User values of each userdata: 1 (the fields table) and the
    /// type's own from 2 on, nil until the type sets them.</param>
    public ScriptType(ScriptRuntime runtime, string name,
        (string Name, nint Function)[] methods, string[] properties, string[] events,
        delegate* unmanaged<nint, int> index, delegate* unmanaged<nint, int> toString,
        delegate* unmanaged<nint, int> newIndex = null, string? directSend = null, long* directSendCounter = null,
        int userValues = 1)
    {
        Name = name;
        Properties = properties;
        Events = events;
        _userValues = Math.Max(1, userValues);
        _runtime = runtime;
        nint L = runtime.Vm.L;
        GCHandle context = runtime.Vm.Keep(this);
        LuaApi.lua_newtable(L);               // mt, referenced first: its reference is the type's tag
        LuaApi.lua_pushvalue(L, -1);
        _metatableRef = LuaApi.luaL_ref(L, LuaApi.LUA_REGISTRYINDEX);
        SetText(L, "__metatable", name);
        SetText(L, "__name", name);
        LuaStrings.Push(L, "__index");
        LuaApi.lua_newtable(L);               // methods
        foreach ((string methodName, nint function) in methods)
        {
            LuaStrings.Push(L, methodName);
            if (methodName == directSend)
            {
                LuaApi.lua_pushlightuserdata(L, (void*)GCHandle.ToIntPtr(context));
                Shim.mona_pushdirectsend(L, (delegate* unmanaged<nint, int>)function, _metatableRef, directSendCounter);
            }
            else
            {
                HostFunction.Push(L, (delegate* unmanaged<nint, int>)function, context);
            }
            LuaApi.lua_rawset(L, -3);
        }
        HostFunction.Push(L, index, context); // properties and fields
        Shim.mona_pushindex(L);
        LuaApi.lua_rawset(L, -3);
        SetFunction(L, "__newindex", newIndex != null ? newIndex : &NewIndex, context);
        SetFunction(L, "__gc", &Collect, context);
        SetFunction(L, "__close", &CloseVariable, context);
        SetFunction(L, "__tostring", toString, context);
        LuaApi.lua_pop(L, 1);
        runtime.AddType(this);
    }

    public string Name { get; }

    /// <summary>The properties the type's Index function answers (declared, not enumerable
    /// from Lua).</summary>
    public IReadOnlyList<string> Properties { get; }

    /// <summary>The events (handler names) its objects call.</summary>
    public IReadOnlyList<string> Events { get; }

    /// <summary>t[key] = text for the table on top of the stack.</summary>
    private static void SetText(nint L, string key, string text)
    {
        LuaStrings.Push(L, key);
        LuaStrings.Push(L, text);
        LuaApi.lua_rawset(L, -3);
    }

    /// <summary>t[key] = a host function over <paramref name="context"/>, for the table on top of
    /// the stack.</summary>
    private static void SetFunction(nint L, string key, delegate* unmanaged<nint, int> function, GCHandle context)
    {
        LuaStrings.Push(L, key);
        HostFunction.Push(L, function, context);
        LuaApi.lua_rawset(L, -3);
    }

    /// <summary>Pushes a new userdata for <paramref name="obj"/> (registered in the object table).</summary>
    public void Push(nint L, ScriptObject obj)
    {
        _class ??= obj.GetType();
        if (obj.GetType() != _class)
            throw new InvalidOperationException($"{Name} holds {_class.Name} objects, not {obj.GetType().Name}");
        obj.Runtime.Objects.Add(obj);
        var handle = (Handle*)LuaApi.lua_newuserdatauv(L, (nuint)sizeof(Handle), _userValues);
        handle->Id = obj.Id;
        handle->Generation = obj.Generation;
        handle->Type = _metatableRef;
        handle->Gate = default;
        handle->Gate.Fd = -1;
        obj.Gate = &handle->Gate;
        LuaApi.lua_createtable(L, 0, 2);
        LuaApi.lua_setiuservalue(L, -2, 1);
        LuaApi.lua_rawgeti(L, LuaApi.LUA_REGISTRYINDEX, _metatableRef);
        LuaApi.lua_setmetatable(L, -2);
    }

    /// <summary>The object of this type at <paramref name="arg"/>, or an argument error.</summary>
    public bool Check<T>(nint L, int arg, out T obj, out int error) where T : ScriptObject
    {
        bool found = Check(L, arg, out ScriptObject any, out error);
        Debug.Assert(!found || any is T);
        obj = Unsafe.As<T>(any); // Push admits one class per type
        return found;
    }

    /// <summary>Non-generic, for <see cref="HostFunction.Method{T}"/>'s shared code.</summary>
    internal bool Check(nint L, int arg, out ScriptObject obj, out int error)
    {
        var handle = (Handle*)Shim.mona_touserdata(L, arg, (nuint)sizeof(Handle));
        if (handle != null && handle->Type == _metatableRef
            && _runtime.Objects.Find(handle->Id, handle->Generation) is { } found)
        {
            obj = found;
            error = 0;
            return true;
        }
        obj = null!;
        error = HostFunction.TypeError(L, arg, Name);
        return false;
    }

    /// <summary>For a property function after its properties: the object's fields table.</summary>
    public static int IndexFields(nint L)
    {
        if (LuaApi.lua_type(L, 1) != LuaApi.LUA_TUSERDATA)
            return 0;
        LuaApi.lua_getiuservalue(L, 1, 1);
        LuaApi.lua_pushvalue(L, 2);
        LuaApi.lua_rawget(L, -2);
        return 1;
    }

    /// <summary>__newindex: every assignment lands in the object's fields table.</summary>
    [UnmanagedCallersOnly]
    private static int NewIndex(nint L) => HostFunction.Function(L, &StoreField);

    /// <summary>Stores self[key] = value (arguments 1-3) in the fields table; for a type's own
    /// __newindex after its settable properties.</summary>
    public static int StoreField(nint L)
    {
        // lua_rawset raises for a nil or NaN key: refuse them here, no longjmp over C#.
        if (LuaApi.lua_type(L, 1) != LuaApi.LUA_TUSERDATA || LuaApi.lua_type(L, 2) == LuaApi.LUA_TNIL)
            return HostFunction.Raise(L, "index is nil");
        if (LuaApi.lua_type(L, 2) == LuaApi.LUA_TNUMBER && double.IsNaN(LuaApi.lua_tonumberx(L, 2, null)))
            return HostFunction.Raise(L, "index is NaN");
        LuaApi.lua_getiuservalue(L, 1, 1);
        LuaApi.lua_pushvalue(L, 2);
        LuaApi.lua_pushvalue(L, 3);
        LuaApi.lua_rawset(L, -3);
        return 0;
    }

    /// <summary>__gc: an unreferenced object is closed and its id freed.</summary>
    [UnmanagedCallersOnly]
    private static int Collect(nint L) => HostFunction.Function<ScriptType>(L, &Collect);

    private static int Collect(nint L, ScriptType type)
    {
        if (type.Find(L) is { } obj)
        {
            obj.Collect();
            obj.Gate = null; // the block goes with the userdata
            obj.Runtime.Objects.Remove(obj);
            obj.Collected();
        }
        return 0;
    }

    /// <summary>__close (a to-be-closed variable going out of scope): closed, no handler
    /// called, as when its application stops; the object stays usable.</summary>
    [UnmanagedCallersOnly]
    private static int CloseVariable(nint L) => HostFunction.Function<ScriptType>(L, &CloseVariable);

    private static int CloseVariable(nint L, ScriptType type)
    {
        type.Find(L)?.Close();
        return 0;
    }

    private ScriptObject? Find(nint L)
    {
        if (LuaApi.lua_type(L, 1) != LuaApi.LUA_TUSERDATA || LuaApi.lua_rawlen(L, 1) != (nuint)sizeof(Handle))
            return null;
        var handle = (Handle*)LuaApi.lua_touserdata(L, 1);
        return _runtime.Objects.Find(handle->Id, handle->Generation);
    }
}
