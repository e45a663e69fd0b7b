using System;
using System.Runtime.InteropServices;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Lua.Runtime;

namespace MonaAot.Modules;

/// <summary>
/// mona:hash(name, data) and mona:hmac(name, key, data) (docs/api.md, "Hashes and encodings"):
/// MD5, SHA-1, SHA-256 and SHA-512 digests as raw bytes. The algorithms are the shim's own
/// (native/shim/mona_hash.c), not .NET's System.Security.Cryptography, which on Linux loads
/// OpenSSL's libcrypto: the binary loads no crypto library for these. The digest goes into a
/// stack buffer and straight into a Lua string: nothing is allocated per call.
/// </summary>
public static unsafe class HashFunctions
{
    /// <summary>Adds hash and hmac to <paramref name="mona"/>.</summary>
    public static void Install(ScriptRuntime runtime, MonaObject mona)
    {
        GCHandle context = runtime.Vm.Keep(runtime);
        mona.AddFunction("hash", &Hash, context);
        mona.AddFunction("hmac", &Hmac, context);
    }

    /// <summary>mona:hash(name, data): the digest of data.</summary>
    [UnmanagedCallersOnly]
    private static int Hash(nint L) => HostFunction.Function<ScriptRuntime>(L, &Hash);

    private static int Hash(nint L, ScriptRuntime _)
    {
        if (!Self(L, "hash", out int error)
            || !Algorithm(L, 2, out int algorithm, out error)
            || !Args.String(L, 3, out ReadOnlySpan<byte> data, out error))
            return error;
        byte* digest = stackalloc byte[Shim.MONA_HASH_MAX];
        int size;
        fixed (byte* bytes = data)
            size = Shim.mona_hash(algorithm, bytes, (nuint)data.Length, digest);
        LuaApi.lua_pushlstring(L, digest, (nuint)size);
        return 1;
    }

    /// <summary>mona:hmac(name, key, data): the HMAC (RFC 2104) of data under key.</summary>
    [UnmanagedCallersOnly]
    private static int Hmac(nint L) => HostFunction.Function<ScriptRuntime>(L, &Hmac);

    private static int Hmac(nint L, ScriptRuntime _)
    {
        if (!Self(L, "hmac", out int error)
            || !Algorithm(L, 2, out int algorithm, out error)
            || !Args.String(L, 3, out ReadOnlySpan<byte> key, out error)
            || !Args.String(L, 4, out ReadOnlySpan<byte> data, out error))
            return error;
        byte* digest = stackalloc byte[Shim.MONA_HASH_MAX];
        int size;
        fixed (byte* k = key)
        fixed (byte* bytes = data)
            size = Shim.mona_hmac(algorithm, k, (nuint)key.Length, bytes, (nuint)data.Length, digest);
        LuaApi.lua_pushlstring(L, digest, (nuint)size);
        return 1;
    }

    /// <summary>Argument 1 must be the mona table: mona.hash(name, data) (a dot for a colon)
    /// would otherwise read data as the name and report it as an unknown hash, which points
    /// the reader the wrong way.</summary>
    internal static bool Self(nint L, string function, out int error)
    {
        if (LuaApi.lua_type(L, 1) == LuaApi.LUA_TTABLE)
        {
            error = 0;
            return true;
        }
        error = HostFunction.ArgError(L, 1, $"mona expected, got {LuaStrings.TypeName(L, 1)} (call it as mona:{function})");
        return false;
    }

    /// <summary>The algorithm named at <paramref name="arg"/>, as mona_hash.h numbers them.
    /// Names are lowercase, as the documentation writes them.</summary>
    private static bool Algorithm(nint L, int arg, out int algorithm, out int error)
    {
        error = 0;
        if (LuaApi.lua_type(L, arg) != LuaApi.LUA_TSTRING)
        {
            algorithm = -1;
            error = HostFunction.TypeError(L, arg, "hash name");
            return false;
        }
        ReadOnlySpan<byte> name = LuaStrings.Span(L, arg);
        algorithm = name.SequenceEqual("sha256"u8) ? Shim.MONA_SHA256
            : name.SequenceEqual("sha1"u8) ? Shim.MONA_SHA1
            : name.SequenceEqual("sha512"u8) ? Shim.MONA_SHA512
            : name.SequenceEqual("md5"u8) ? Shim.MONA_MD5
            : -1;
        if (algorithm >= 0)
            return true;
        string shown = System.Text.Encoding.UTF8.GetString(name.Length > 32 ? name[..32] : name);
        error = HostFunction.ArgError(L, arg, $"unknown hash '{shown}{(name.Length > 32 ? "..." : "")}'; use md5, sha1, sha256 or sha512");
        return false;
    }
}
