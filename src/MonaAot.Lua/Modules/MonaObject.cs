using System;
using System.Collections;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using KeraLua;
using MonaAot.Configuration;
using MonaAot.Lua;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;

namespace MonaAot.Hosting;

/// <summary>
/// The global <c>mona</c> table (docs/api.md, "mona"): <c>configs</c>, <c>environment</c>,
/// <c>mona:absolutePath(path)</c>, <c>mona:time()</c>. Socket and mail factories are added to
/// the same table by their modules.
/// </summary>
public static unsafe class MonaObject
{
    /// <summary>What mona's host functions need; upvalue 2 of each.</summary>
    private sealed record Context(string WwwRoot);

    public static void Install(LuaVm vm, IniFile ini, string wwwRoot)
    {
        KeraLua.Lua lua = vm.State;
        GCHandle context = vm.Keep(new Context(wwwRoot));
        lua.NewTable();
        lua.PushString("configs");
        PushConfigs(lua, ini);
        lua.RawSet(-3);
        lua.PushString("environment");
        PushEnvironment(lua);
        lua.RawSet(-3);
        SetMethod(vm, "absolutePath", &AbsolutePath, context);
        SetMethod(vm, "time", &Time, context);
        lua.SetGlobal("mona");
    }

    private static void SetMethod(LuaVm vm, string name, delegate* unmanaged<nint, int> fn, GCHandle context)
    {
        vm.State.PushString(name);
        HostFunction.Push(vm.L, fn, context);
        vm.State.RawSet(-3);
    }

    /// <summary>Flat ("smtp.port") and nested (smtp.port) in one table, values typed.</summary>
    private static void PushConfigs(KeraLua.Lua lua, IniFile ini)
    {
        lua.NewTable();
        foreach (IniEntry entry in ini.Entries)
        {
            lua.PushString(entry.FlatKey);
            PushValue(lua, ConfigValue.Parse(entry.Value));
            lua.RawSet(-3);
            if (entry.Section.Length == 0)
                continue;
            // configs[section] is a table unless a top-level key of that name came first.
            lua.PushString(entry.Section);
            if (lua.RawGet(-2) != LuaType.Table)
            {
                lua.Pop(1);
                lua.NewTable();
                lua.PushString(entry.Section);
                lua.PushCopy(-2);
                lua.RawSet(-4);
            }
            lua.PushString(entry.Key);
            PushValue(lua, ConfigValue.Parse(entry.Value));
            lua.RawSet(-3);
            lua.Pop(1);
        }
    }

    private static void PushValue(KeraLua.Lua lua, ConfigValue value)
    {
        switch (value.Type)
        {
            case ConfigValue.Kind.Boolean: lua.PushBoolean(value.Boolean); break;
            case ConfigValue.Kind.Integer: lua.PushInteger(value.Integer); break;
            case ConfigValue.Kind.Float: lua.PushNumber(value.Number); break;
            default: lua.PushString(value.Text); break;
        }
    }

    private static void PushEnvironment(KeraLua.Lua lua)
    {
        lua.NewTable();
        foreach (DictionaryEntry variable in Environment.GetEnvironmentVariables())
        {
            lua.PushString((string)variable.Key);
            lua.PushString((string?)variable.Value ?? "");
            lua.RawSet(-3);
        }
    }

    /// <summary>mona:absolutePath(path): the folder of the application at <c>path</c>, with a
    /// trailing slash ("/a/b" -> "/srv/www/a/b/").</summary>
    [UnmanagedCallersOnly]
    private static int AbsolutePath(nint L) => HostFunction.Function<Context>(L, &AbsolutePath);

    private static int AbsolutePath(nint L, Context context)
    {
        if (!Args.Text(L, 2, out string path, out int error))
            return error;
        string root = context.WwwRoot;
        string relative = path.Trim('/');
        LuaStrings.Push(L, relative.Length == 0 ? root + "/" : root + "/" + relative + "/");
        return 1;
    }

    /// <summary>mona:time(): milliseconds since the Unix epoch.</summary>
    [UnmanagedCallersOnly]
    private static int Time(nint L) => HostFunction.Function<Context>(L, &Time);

    private static int Time(nint L, Context _)
    {
        LuaApi.lua_pushinteger(L, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        return 1;
    }
}
