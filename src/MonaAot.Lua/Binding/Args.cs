using System;
using MonaAot.Lua.Native;

namespace MonaAot.Lua.Binding;

/// <summary>
/// Argument readers for host functions, with luaL_check* semantics but no longjmp: each returns
/// true with the value, or false with <paramref name="error"/> set to the code the host function
/// must return (the detail is already pushed). Usage:
/// <code>if (!Args.String(L, 2, out var data, out int error)) return error;</code>
/// </summary>
public static unsafe class Args
{
    /// <summary>A string, or a number converted as Lua does.</summary>
    public static bool String(nint L, int arg, out ReadOnlySpan<byte> value, out int error)
    {
        int type = LuaApi.lua_type(L, arg);
        if (type != LuaApi.LUA_TSTRING && type != LuaApi.LUA_TNUMBER)
        {
            value = default;
            error = HostFunction.TypeError(L, arg, "string");
            return false;
        }
        if (type == LuaApi.LUA_TSTRING)
        {
            nuint length;
            byte* bytes = LuaApi.lua_tolstring_of_string(L, arg, &length);
            value = new ReadOnlySpan<byte>(bytes, (int)length);
        }
        else
        {
            value = LuaStrings.Span(L, arg); // a number, converted in place
        }
        error = 0;
        return true;
    }

    /// <summary>A string as C# text (for names and paths, not for data).</summary>
    public static bool Text(nint L, int arg, out string value, out int error)
    {
        if (!String(L, arg, out ReadOnlySpan<byte> bytes, out error))
        {
            value = "";
            return false;
        }
        value = System.Text.Encoding.UTF8.GetString(bytes);
        return true;
    }

    /// <summary>An integer; a numeric string such as "80" is accepted, as luaL_checkinteger does.</summary>
    public static bool Integer(nint L, int arg, out long value, out int error)
    {
        int isInteger;
        value = LuaApi.lua_tointegerx(L, arg, &isInteger);
        if (isInteger != 0)
        {
            error = 0;
            return true;
        }
        int isNumber;
        LuaApi.lua_tonumberx(L, arg, &isNumber);
        error = isNumber != 0
            ? HostFunction.ArgError(L, arg, "number has no integer representation")
            : HostFunction.TypeError(L, arg, "number");
        return false;
    }

    /// <summary>A number (integer or float); numeric strings accepted.</summary>
    public static bool Number(nint L, int arg, out double value, out int error)
    {
        int isNumber;
        value = LuaApi.lua_tonumberx(L, arg, &isNumber);
        error = isNumber != 0 ? 0 : HostFunction.TypeError(L, arg, "number");
        return isNumber != 0;
    }

    /// <summary>A table.</summary>
    public static bool Table(nint L, int arg, out int error)
    {
        bool ok = LuaApi.lua_type(L, arg) == LuaApi.LUA_TTABLE;
        error = ok ? 0 : HostFunction.TypeError(L, arg, "table");
        return ok;
    }

    /// <summary>True when argument <paramref name="arg"/> is absent or nil.</summary>
    public static bool IsNoneOrNil(nint L, int arg) => LuaApi.lua_type(L, arg) <= LuaApi.LUA_TNIL;
}
