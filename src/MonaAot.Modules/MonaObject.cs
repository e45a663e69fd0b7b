using System;
using System.Collections;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Lua.Runtime;

namespace MonaAot.Modules;

/// <summary>
/// The <c>mona</c> table (docs/api.md, "mona"): <c>configs</c>, <c>environment</c>,
/// <c>mona:absolutePath(path)</c>, <c>mona:time()</c>, and what the modules add to it through
/// <see cref="AddFunction"/> and <see cref="AddFactory"/>. The global one is for code outside
/// any application; each application's environment gets its own (<see cref="PushFor"/>), whose
/// factories make objects that application owns (<see cref="Owners"/>).
/// </summary>
public sealed unsafe class MonaObject
{
    private readonly ScriptRuntime _runtime;
    private readonly int _tableRef;     // the global mona
    private readonly int _metatableRef; // every application's mona: {__index = mona, __newindex = mona}
    private readonly List<(string Name, nint Function, GCHandle Context)> _factories = [];

    private MonaObject(ScriptRuntime runtime, int tableRef, int metatableRef)
    {
        _runtime = runtime;
        _tableRef = tableRef;
        _metatableRef = metatableRef;
    }

    /// <summary>Makes the global <c>mona</c> with what the host shows of itself.</summary>
    public static MonaObject Install(ScriptRuntime runtime, IMonaHost host)
    {
        nint L = runtime.Vm.L;
        GCHandle context = runtime.Vm.Keep(host);
        LuaApi.lua_newtable(L);
        LuaStrings.Push(L, "configs");
        PushConfigs(L, host);
        LuaApi.lua_rawset(L, -3);
        LuaStrings.Push(L, "environment");
        PushEnvironment(L);
        LuaApi.lua_rawset(L, -3);
        LuaStrings.Push(L, "worker");
        LuaApi.lua_pushinteger(L, host.Worker);
        LuaApi.lua_rawset(L, -3);
        LuaStrings.Push(L, "workers");
        LuaApi.lua_pushinteger(L, host.Workers);
        LuaApi.lua_rawset(L, -3);
        LuaStrings.Push(L, "absolutePath");
        HostFunction.Push(L, &AbsolutePath, context);
        LuaApi.lua_rawset(L, -3);
        LuaStrings.Push(L, "time");
        HostFunction.Push(L, &Time, context);
        LuaApi.lua_rawset(L, -3);
        LuaApi.lua_pushglobaltable(L);       // mona _G
        LuaStrings.Push(L, "mona");
        LuaApi.lua_pushvalue(L, -3);
        LuaApi.lua_rawset(L, -3);
        LuaApi.lua_pop(L, 1);
        // An application's mona reads what it does not hold itself (a field a script added) from
        // the global one, and adds fields there, so they stay shared as with one table.
        LuaApi.lua_createtable(L, 0, 2);     // mona mt
        LuaStrings.Push(L, "__index");
        LuaApi.lua_pushvalue(L, -3);
        LuaApi.lua_rawset(L, -3);
        LuaStrings.Push(L, "__newindex");
        LuaApi.lua_pushvalue(L, -3);
        LuaApi.lua_rawset(L, -3);
        int metatableRef = LuaApi.luaL_ref(L, LuaApi.LUA_REGISTRYINDEX);
        int tableRef = LuaApi.luaL_ref(L, LuaApi.LUA_REGISTRYINDEX);
        return new MonaObject(runtime, tableRef, metatableRef);
    }

    /// <summary>Adds mona[<paramref name="name"/>], a host function over <paramref name="context"/>.</summary>
    public void AddFunction(string name, delegate* unmanaged<nint, int> function, GCHandle context)
    {
        nint L = _runtime.Vm.L;
        LuaApi.lua_rawgeti(L, LuaApi.LUA_REGISTRYINDEX, _tableRef);
        LuaStrings.Push(L, name);
        HostFunction.Push(L, function, context);
        LuaApi.lua_rawset(L, -3);
        LuaApi.lua_pop(L, 1);
    }

    /// <summary>Pushes the global mona, for a module whose fields the shim sets in C (JsonModule).</summary>
    public void Push() => LuaApi.lua_rawgeti(_runtime.Vm.L, LuaApi.LUA_REGISTRYINDEX, _tableRef);

    /// <summary>Adds mona[<paramref name="name"/>], a function that makes objects: it finds
    /// their owner with <see cref="Owners.OfFactory"/> (none in the global mona).</summary>
    public void AddFactory(string name, delegate* unmanaged<nint, int> function, GCHandle context)
    {
        _factories.Add((name, (nint)function, context));
        AddFunction(name, function, context);
    }

    /// <summary>
    /// Pushes a new mona for <paramref name="owner"/>'s environment (at <paramref name="environment"/>):
    /// the factories made again with the owner as upvalue 3, everything else read from (and
    /// written to) the global one through the metatable, so a field a script adds is one field,
    /// seen by every application. Made once per application; the environment keeps it across
    /// reloads. The environment is also registered as the owner's (<see cref="Owners"/>).
    /// </summary>
    public void PushFor(IResourceOwner owner, int environment)
    {
        nint L = _runtime.Vm.L;
        GCHandle ownerHandle = _runtime.Vm.Keep(owner);
        Owners.RegisterEnvironment(L, environment, ownerHandle);
        LuaApi.lua_createtable(L, 0, _factories.Count);
        foreach ((string name, nint function, GCHandle context) in _factories)
        {
            LuaStrings.Push(L, name);
            LuaApi.lua_pushlightuserdata(L, (void*)GCHandle.ToIntPtr(context));
            LuaApi.lua_pushlightuserdata(L, (void*)GCHandle.ToIntPtr(ownerHandle));
            HostFunction.Push(L, (delegate* unmanaged<nint, int>)function, upvalues: 2);
            LuaApi.lua_rawset(L, -3);
        }
        LuaApi.lua_rawgeti(L, LuaApi.LUA_REGISTRYINDEX, _metatableRef);
        LuaApi.lua_setmetatable(L, -2);
    }

    /// <summary>Flat ("smtp.port") and nested (smtp.port) in one table, values typed.</summary>
    private static void PushConfigs(nint L, IMonaHost host)
    {
        LuaApi.lua_newtable(L);
        foreach (MonaConfig entry in host.Configs)
        {
            LuaStrings.Push(L, entry.FlatKey);
            PushValue(L, entry.Value);
            LuaApi.lua_rawset(L, -3);
            if (entry.Section.Length == 0)
                continue;
            // configs[section] is a table unless a top-level key of that name came first.
            LuaStrings.Push(L, entry.Section);
            if (LuaApi.lua_rawget(L, -2) != LuaApi.LUA_TTABLE)
            {
                LuaApi.lua_pop(L, 1);
                LuaApi.lua_newtable(L);
                LuaStrings.Push(L, entry.Section);
                LuaApi.lua_pushvalue(L, -2);
                LuaApi.lua_rawset(L, -4);
            }
            LuaStrings.Push(L, entry.Key);
            PushValue(L, entry.Value);
            LuaApi.lua_rawset(L, -3);
            LuaApi.lua_pop(L, 1);
        }
    }

    private static void PushValue(nint L, object value)
    {
        switch (value)
        {
            case bool boolean: LuaApi.lua_pushboolean(L, boolean ? 1 : 0); break;
            case long integer: LuaApi.lua_pushinteger(L, integer); break;
            case double number: LuaApi.lua_pushnumber(L, number); break;
            default: LuaStrings.Push(L, value.ToString() ?? ""); break;
        }
    }

    private static void PushEnvironment(nint L)
    {
        LuaApi.lua_newtable(L);
        foreach (DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            LuaStrings.Push(L, (string)variable.Key);
            LuaStrings.Push(L, (string?)variable.Value ?? "");
            LuaApi.lua_rawset(L, -3);
        }
    }

    /// <summary>mona:absolutePath(path): the folder of the application at <c>path</c>, with a
    /// trailing slash ("/a/b" -> "/srv/www/a/b/").</summary>
    [UnmanagedCallersOnly]
    private static int AbsolutePath(nint L) => HostFunction.Function<IMonaHost>(L, &AbsolutePath);

    private static int AbsolutePath(nint L, IMonaHost host)
    {
        if (!Args.Text(L, 2, out string path, out int error))
            return error;
        string root = host.WwwRoot;
        string relative = path.Trim('/');
        LuaStrings.Push(L, relative.Length == 0 ? root + "/" : root + "/" + relative + "/");
        return 1;
    }

    /// <summary>mona:time(): milliseconds since the Unix epoch.</summary>
    [UnmanagedCallersOnly]
    private static int Time(nint L) => HostFunction.Function<IMonaHost>(L, &Time);

    private static int Time(nint L, IMonaHost _)
    {
        LuaApi.lua_pushinteger(L, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        return 1;
    }
}
