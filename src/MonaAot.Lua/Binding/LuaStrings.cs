using System;
using System.Buffers;
using System.Text;
using MonaAot.Lua.Native;

namespace MonaAot.Lua.Binding;

/// <summary>Moves text between C# and Lua. Lua strings are bytes; C# text crosses as UTF-8.</summary>
public static unsafe class LuaStrings
{
    /// <summary>Pushes <paramref name="text"/> as UTF-8 without a heap allocation for short text.</summary>
    public static void Push(nint L, string text)
    {
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        byte[]? rented = max > 512 ? ArrayPool<byte>.Shared.Rent(max) : null;
        Span<byte> buffer = rented ?? stackalloc byte[512];
        int length = Encoding.UTF8.GetBytes(text, buffer);
        fixed (byte* bytes = buffer)
            LuaApi.lua_pushlstring(L, bytes, (nuint)length);
        if (rented is not null)
            ArrayPool<byte>.Shared.Return(rented);
    }

    /// <summary>Pushes raw bytes.</summary>
    public static void Push(nint L, ReadOnlySpan<byte> bytes)
    {
        fixed (byte* p = bytes)
            LuaApi.lua_pushlstring(L, p, (nuint)bytes.Length);
    }

    /// <summary>The bytes of the string at <paramref name="index"/>, valid while it stays on the stack.</summary>
    public static ReadOnlySpan<byte> Span(nint L, int index)
    {
        nuint length;
        byte* bytes = LuaApi.lua_tolstring(L, index, &length);
        return bytes == null ? default : new ReadOnlySpan<byte>(bytes, (int)length);
    }

    /// <summary>The value at <paramref name="index"/> as C# text if it is a string or a number, else null.</summary>
    public static string? ToText(nint L, int index)
    {
        int type = LuaApi.lua_type(L, index);
        if (type != LuaApi.LUA_TSTRING && type != LuaApi.LUA_TNUMBER)
            return null;
        return Encoding.UTF8.GetString(Span(L, index));
    }

    /// <summary>The type of the value at <paramref name="index"/> as luaL_typeerror names it: the
    /// metatable's __name if it is a string (our objects: "TCPClient"), else Lua's type name,
    /// "no value" if there is none.</summary>
    public static string TypeName(nint L, int index)
    {
        int type = LuaApi.lua_type(L, index);
        if (type == LuaApi.LUA_TNONE)
            return "no value";
        if (LuaApi.lua_getmetatable(L, index) != 0)
        {
            Push(L, "__name"u8);
            string? name = LuaApi.lua_rawget(L, -2) == LuaApi.LUA_TSTRING ? ToText(L, -1) : null;
            LuaApi.lua_pop(L, 2);
            if (name is not null)
                return name;
        }
        return new string((sbyte*)LuaApi.lua_typename(L, type));
    }
}
