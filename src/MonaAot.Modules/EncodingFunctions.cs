using System;
using System.Runtime.InteropServices;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Lua.Runtime;

namespace MonaAot.Modules;

/// <summary>
/// mona:toBase64(data), mona:fromBase64(text) and mona:toHex(data) (docs/api.md, "Hashes and
/// encodings"), over the shim's codec (native/shim/mona_codec.c). The result is built in a
/// stack buffer when small, else in native memory freed before returning, and pushed as one
/// Lua string: no managed allocation per call, except the message of an invalid text.
/// </summary>
public static unsafe class EncodingFunctions
{
    /// <summary>Results up to this size are built on the stack.</summary>
    private const int StackBytes = 1024;

    /// <summary>Adds toBase64, fromBase64 and toHex to <paramref name="mona"/>.</summary>
    public static void Install(ScriptRuntime runtime, MonaObject mona)
    {
        GCHandle context = runtime.Vm.Keep(runtime);
        mona.AddFunction("toBase64", &ToBase64, context);
        mona.AddFunction("fromBase64", &FromBase64, context);
        mona.AddFunction("toHex", &ToHex, context);
    }

    /// <summary>mona:toBase64(data): RFC 4648 base64, standard alphabet, with padding.</summary>
    [UnmanagedCallersOnly]
    private static int ToBase64(nint L) => HostFunction.Function<ScriptRuntime>(L, &ToBase64);

    private static int ToBase64(nint L, ScriptRuntime _)
    {
        if (!HashFunctions.Self(L, "toBase64", out int error) || !Args.String(L, 2, out ReadOnlySpan<byte> data, out error))
            return error;
        long size = (data.Length + 2L) / 3 * 4;
        if (size > int.MaxValue)
            return HostFunction.ArgError(L, 2, "data too long for base64 text");
        byte* stack = stackalloc byte[StackBytes];
        byte* output = size <= StackBytes ? stack : (byte*)NativeMemory.Alloc((nuint)size);
        try
        {
            fixed (byte* bytes = data)
                Shim.mona_base64_encode(bytes, (nuint)data.Length, output);
            LuaApi.lua_pushlstring(L, output, (nuint)size);
        }
        finally
        {
            if (size > StackBytes)
                NativeMemory.Free(output);
        }
        return 1;
    }

    /// <summary>mona:fromBase64(text): the bytes, or nil and a message. Both alphabets
    /// (standard and URL-safe), padding optional, whitespace skipped (mona_codec.h).</summary>
    [UnmanagedCallersOnly]
    private static int FromBase64(nint L) => HostFunction.Function<ScriptRuntime>(L, &FromBase64);

    private static int FromBase64(nint L, ScriptRuntime _)
    {
        if (!HashFunctions.Self(L, "fromBase64", out int error) || !Args.String(L, 2, out ReadOnlySpan<byte> text, out error))
            return error;
        long capacity = text.Length / 4 * 3L + 3;
        byte* stack = stackalloc byte[StackBytes];
        byte* output = capacity <= StackBytes ? stack : (byte*)NativeMemory.Alloc((nuint)capacity);
        try
        {
            nuint position;
            long size;
            fixed (byte* bytes = text)
                size = Shim.mona_base64_decode(bytes, (nuint)text.Length, output, &position);
            if (size >= 0)
            {
                LuaApi.lua_pushlstring(L, output, (nuint)size);
                return 1;
            }
            LuaApi.lua_pushnil(L);
            LuaStrings.Push(L, Invalid(size, text, (int)position));
            return 2;
        }
        finally
        {
            if (capacity > StackBytes)
                NativeMemory.Free(output);
        }
    }

    /// <summary>The message for mona_base64_decode's code; positions count from 1, as Lua's do.</summary>
    private static string Invalid(long code, ReadOnlySpan<byte> text, int position) => code switch
    {
        -1 => $"invalid base64 character {Shown(text[position])} at position {position + 1}",
        -2 when position < text.Length => $"invalid base64 padding at position {position + 1}",
        -2 => "invalid base64 padding: missing '='",
        _ => $"truncated base64 text: a lone character at the end (position {position})",
    };

    private static string Shown(byte c) => c is >= 0x21 and < 0x7f ? $"'{(char)c}'" : $"0x{c:x2}";

    /// <summary>mona:toHex(data): two lowercase hexadecimal digits per byte.</summary>
    [UnmanagedCallersOnly]
    private static int ToHex(nint L) => HostFunction.Function<ScriptRuntime>(L, &ToHex);

    private static int ToHex(nint L, ScriptRuntime _)
    {
        if (!HashFunctions.Self(L, "toHex", out int error) || !Args.String(L, 2, out ReadOnlySpan<byte> data, out error))
            return error;
        long size = data.Length * 2L;
        if (size > int.MaxValue)
            return HostFunction.ArgError(L, 2, "data too long for hexadecimal text");
        byte* stack = stackalloc byte[StackBytes];
        byte* output = size <= StackBytes ? stack : (byte*)NativeMemory.Alloc((nuint)size);
        try
        {
            fixed (byte* bytes = data)
                Shim.mona_hex_encode(bytes, (nuint)data.Length, output);
            LuaApi.lua_pushlstring(L, output, (nuint)size);
        }
        finally
        {
            if (size > StackBytes)
                NativeMemory.Free(output);
        }
        return 1;
    }
}
