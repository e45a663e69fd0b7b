using System;
using System.Collections.Generic;
using System.IO;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Net.Tls;

namespace MonaAot.Modules;

/// <summary>
/// The tls argument of mona:createTCPClient(tls) and mona:createTCPServer(tls) (docs/api.md,
/// "TLS"): nil or false for plain TCP, true for the defaults (a client: the system's trust store,
/// verification on; a server: [tls] certificate and key), or a table of options. A wrong type, an
/// unknown option or a missing file is a Lua error at creation, before any connection.
/// </summary>
internal static unsafe class TlsArgs
{
    /// <summary>Where the files named in options are looked for, and the server's defaults.</summary>
    internal readonly record struct Places(string Folder, string? DefaultCertificate, string? DefaultKey);

    /// <summary>Reads argument <paramref name="arg"/>: true with <paramref name="options"/> null
    /// for plain TCP, or the options; false with <paramref name="error"/> (the host function's
    /// result) when they are wrong.</summary>
    public static bool Read(nint L, int arg, bool server, in Places places, out TlsOptions? options, out string? serverName, out int error)
    {
        options = null;
        serverName = null;
        error = 0;
        int type = LuaApi.lua_type(L, arg);
        if (type <= LuaApi.LUA_TNIL || (type == LuaApi.LUA_TBOOLEAN && LuaApi.lua_toboolean(L, arg) == 0))
            return true;
        if (type == LuaApi.LUA_TBOOLEAN)
        {
            if (!server)
            {
                options = new TlsOptions();
                return true;
            }
            if (places.DefaultCertificate is null || places.DefaultKey is null)
            {
                error = HostFunction.ArgError(L, arg, "TLS: no [tls] certificate and key in the configuration");
                return false;
            }
            options = new TlsOptions { IsServer = true, CertificateFile = places.DefaultCertificate, KeyFile = places.DefaultKey };
            return Exist(L, arg, options, out error);
        }
        if (type != LuaApi.LUA_TTABLE)
        {
            error = HostFunction.TypeError(L, arg, "boolean or table");
            return false;
        }

        bool verify = true;
        string? ca = null, certificate = null, key = null;
        List<string>? alpn = null;
        int table = LuaApi.lua_absindex(L, arg);
        LuaApi.lua_pushnil(L);
        while (LuaApi.lua_next(L, table) != 0)
        {
            // key at -2, value at -1
            string name = LuaApi.lua_type(L, -2) == LuaApi.LUA_TSTRING ? LuaStrings.ToText(L, -2) ?? "" : "";
            string? problem = name switch
            {
                "serverName" when !server => Text(L, out serverName),
                "verify" => Flag(L, out verify),
                "ca" => Path(L, places.Folder, out ca),
                "certificate" => Path(L, places.Folder, out certificate),
                "key" => Path(L, places.Folder, out key),
                "alpn" => List(L, out alpn),
                _ => $"unknown TLS option '{(name.Length > 0 ? name : LuaStrings.TypeName(L, -2))}'",
            };
            if (problem is not null)
            {
                error = HostFunction.ArgError(L, arg, problem.StartsWith("unknown", StringComparison.Ordinal) ? problem : $"TLS option '{name}': {problem}");
                return false;
            }
            LuaApi.lua_pop(L, 1);
        }
        if (server && (certificate is null || key is null))
        {
            certificate ??= places.DefaultCertificate;
            key ??= places.DefaultKey;
            if (certificate is null || key is null)
            {
                error = HostFunction.ArgError(L, arg, "TLS: a server needs a certificate and a key");
                return false;
            }
        }
        if ((certificate is null) != (key is null))
        {
            error = HostFunction.ArgError(L, arg, "TLS: a certificate needs its key (and a key its certificate)");
            return false;
        }
        options = new TlsOptions { IsServer = server, Verify = verify, CaFile = ca, CertificateFile = certificate, KeyFile = key, Alpn = alpn };
        return Exist(L, arg, options, out error);
    }

    /// <summary>Makes the context; false with a Lua error naming what is wrong with the files.</summary>
    public static TlsContext? Context(nint L, int arg, TlsOptions options, out int error)
    {
        TlsContext? context = TlsContext.Create(options, out string? failure);
        error = context is null ? HostFunction.ArgError(L, arg, failure ?? "TLS: cannot make a context") : 0;
        return context;
    }

    private static bool Exist(nint L, int arg, TlsOptions options, out int error)
    {
        error = 0;
        foreach ((string what, string? file) in (ReadOnlySpan<(string, string?)>)[("CA", options.CaFile), ("certificate", options.CertificateFile), ("key", options.KeyFile)])
        {
            if (file is not null && !File.Exists(file))
            {
                error = HostFunction.ArgError(L, arg, $"TLS {what} file not found: {file}");
                return false;
            }
        }
        return true;
    }

    private static string? Text(nint L, out string? value)
    {
        value = LuaApi.lua_type(L, -1) == LuaApi.LUA_TSTRING ? LuaStrings.ToText(L, -1) : null;
        return value is null ? $"string expected, got {LuaStrings.TypeName(L, -1)}" : null;
    }

    private static string? Flag(nint L, out bool value)
    {
        value = LuaApi.lua_toboolean(L, -1) != 0;
        return LuaApi.lua_type(L, -1) == LuaApi.LUA_TBOOLEAN ? null : $"boolean expected, got {LuaStrings.TypeName(L, -1)}";
    }

    /// <summary>A file name; a relative one starts from the application's folder.</summary>
    private static string? Path(nint L, string folder, out string? value)
    {
        string? problem = Text(L, out value);
        if (problem is null)
            value = System.IO.Path.GetFullPath(System.IO.Path.Combine(folder, value!));
        return problem;
    }

    private static string? List(nint L, out List<string>? value)
    {
        value = null;
        if (LuaApi.lua_type(L, -1) != LuaApi.LUA_TTABLE)
            return $"table expected, got {LuaStrings.TypeName(L, -1)}";
        value = [];
        long count = (long)LuaApi.lua_rawlen(L, -1);
        for (long i = 1; i <= count; i++)
        {
            LuaApi.lua_rawgeti(L, -1, i);
            string? name = LuaApi.lua_type(L, -1) == LuaApi.LUA_TSTRING ? LuaStrings.ToText(L, -1) : null;
            LuaApi.lua_pop(L, 1);
            if (string.IsNullOrEmpty(name) || name.Length > 255)
                return "a list of protocol names expected";
            value.Add(name);
        }
        return null;
    }
}
