using System;
using System.Net;
using System.Runtime.InteropServices;
using MonaAot.Diagnostics;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Lua.Runtime;
using MonaAot.Net;
using MonaAot.Net.Tls;

namespace MonaAot.Modules;

/// <summary>
/// TCPServer (docs/api.md, "TCPServer"): start(port) dual-stack, start(host, port),
/// start("host:port"); stop(); port and running; clientHandler(client), with onConnection as an
/// alias. Accepted clients are TCPClient objects that live until they disconnect. A TLS server
/// hands a client over only once its handshake is done, and takes renewed certificate files for
/// new connections (<see cref="CurrentTls"/>).
/// </summary>
public sealed unsafe class TcpServerObject : ScriptObject, ITcpListenerEvents
{
    private readonly TcpModule _module;
    private TcpListener? _listener;
    private string _boundText = "";
    private TlsContext? _tls;
    private DateTime _certificateTime, _keyTime; // of the files _tls was made from
    private long _tlsCheckedAt;
    private ProxyTrust? _proxy; // proxyProtocol: every connection starts with a PROXY header
    private long _refusedSecond;   // the second WarnRefused counts in
    private int _refusedCount, _refusedUnlogged;

    /// <summary>Warnings about refused connections of a server with proxyProtocol (a bad PROXY
    /// header, an untrusted source, a failed handshake behind it) at most this many a second per server: a flood of them must not flood the log.</summary>
    private const int RefusedWarningsPerSecond = 10;

    internal TcpServerObject(TcpModule module, IResourceOwner? owner, TlsContext? tls = null) : base(module.Runtime, owner)
    {
        _module = module;
        _tls = tls;
        if (tls is not null)
        {
            (_certificateTime, _keyTime) = FileTimes(tls.Options);
            _tlsCheckedAt = Reactor.EventLoop.Now;
        }
    }

    /// <summary>The port listened on, 0 when stopped.</summary>
    internal int Port => _listener?.Port ?? 0;

    /// <summary>The files' times; none (MinValue) when they cannot be read now (permissions
    /// changed under a running server): the next look compares again, nothing throws into the
    /// accept that asked.</summary>
    private static (DateTime, DateTime) FileTimes(TlsOptions options)
    {
        try
        {
            return (System.IO.File.GetLastWriteTimeUtc(options.CertificateFile!), System.IO.File.GetLastWriteTimeUtc(options.KeyFile!));
        }
        catch (Exception e) when (e is System.IO.IOException or UnauthorizedAccessException)
        {
            return (DateTime.MinValue, DateTime.MinValue);
        }
    }

    /// <summary>The context for a new connection: at most once a second, the certificate and key
    /// files are looked at, and a renewal makes a new context (sessions of the old one keep it
    /// until they end). Renewed files that cannot be used are logged and the old context kept.</summary>
    private TlsContext CurrentTls()
    {
        TlsContext tls = _tls!;
        long now = Reactor.EventLoop.Now;
        if (now - _tlsCheckedAt < 1000)
            return tls;
        _tlsCheckedAt = now;
        (DateTime certificate, DateTime key) = FileTimes(tls.Options);
        if (certificate == _certificateTime && key == _keyTime)
            return tls;
        (_certificateTime, _keyTime) = (certificate, key);
        TlsContext? renewed = TlsContext.Create(tls.Options, out string? error);
        if (renewed is null)
        {
            Runtime.Logger.Warn($"TCPServer {Port}: the renewed TLS certificate cannot be used, the previous one stays: {error}");
            return tls;
        }
        tls.Dispose();
        _tls = renewed;
        return renewed;
    }

    /// <summary>Logs why an accepted connection never reached the script, at WARN, at most
    /// <see cref="RefusedWarningsPerSecond"/> a second; how many were left out is said with the
    /// next one logged.</summary>
    internal void WarnRefused(string message)
    {
        long second = Reactor.EventLoop.Now / 1000;
        if (second != _refusedSecond)
        {
            _refusedSecond = second;
            _refusedCount = 0;
        }
        if (++_refusedCount > RefusedWarningsPerSecond)
        {
            _refusedUnlogged++;
            return;
        }
        if (_refusedUnlogged > 0)
        {
            message += $" ({_refusedUnlogged} more refused connections not logged)";
            _refusedUnlogged = 0;
        }
        Runtime.Logger.Warn(message);
    }

    /// <summary>An accepted TLS client whose handshake is done: clientHandler(client) now.</summary>
    internal void HandOver(TcpClientObject client)
    {
        nint L = Runtime.Vm.L;
        if (client.SelfRef == LuaApi.LUA_NOREF)
            return;
        int top = LuaApi.lua_gettop(L);
        try
        {
            if (Runtime.PushEvent(this, "clientHandler\0"u8) || Runtime.PushEvent(this, "onConnection\0"u8))
            {
                LuaApi.lua_rawgeti(L, LuaApi.LUA_REGISTRYINDEX, client.SelfRef);
                Runtime.CallEvent(1, 0);
            }
        }
        finally
        {
            LuaApi.lua_settop(L, top);
        }
    }

    internal static ScriptType CreateType(ScriptRuntime runtime) =>
        new(runtime, "TCPServer",
            [("start", (nint)(delegate* unmanaged<nint, int>)&Start),
             ("stop", (nint)(delegate* unmanaged<nint, int>)&Stop)],
            ["running", "port", "proxyProtocol"],
            ["clientHandler", "onConnection"],
            &Index, &ToText, &NewIndex);

    /// <summary>Reads start's arguments into an address to bind; null with a message if invalid.
    /// No host (start(port), start(":port")) is every interface.</summary>
    private string? ReadAddress(nint L, out NetAddress address, out bool wildcard, out int argError)
    {
        address = default;
        wildcard = false;
        if (!AddressArgs.Read(L, 2, AddressForms.TcpStart, out string host, out int port, out string? invalid, out argError) || invalid is not null)
            return invalid;
        wildcard = host.Length == 0;
        if (wildcard)
        {
            address = NetAddress.From(IPAddress.IPv6Any, port);
            return null;
        }
        address = AddressArgs.Locate(host, port, Runtime.Hosts, "start", out invalid) ?? default;
        return invalid;
    }

    /// <summary>Listens on <paramref name="address"/>; null, or why it cannot.</summary>
    private string? StartListening(nint L, NetAddress address, bool wildcard)
    {
        StopListening();
        TcpListener? listener = TcpListener.Start(Runtime.Net, address, this, out string? error);
        if (listener is null && wildcard)
            listener = TcpListener.Start(Runtime.Net, NetAddress.From(IPAddress.Any, address.Port), this, out error);
        if (listener is null)
            return error ?? "cannot listen";
        _listener = listener;
        if (_proxy is { All: true })
            Runtime.Logger.Warn($"TCPServer {listener.Port}: proxyProtocol = true takes a PROXY header from any source, which anyone could forge; give the balancers' addresses instead");
        _boundText = wildcard ? $"*:{listener.Port}" : NetAddress.Format(address.ToIPAddress(), listener.Port);
        Retain(L, 1);
        return null;
    }

    private void StopListening()
    {
        _listener?.Stop();
        _listener = null;
    }

    public void OnAccepted(nint fd)
    {
        nint L = Runtime.Vm.L;
        if (_tls is not null || _proxy is not null)
        {
            TcpClientObject.AcceptDeferred(_module, this, _tls is null ? null : CurrentTls(), _proxy, L, fd);
            return;
        }
        int top = LuaApi.lua_gettop(L);
        try
        {
            bool handled = Runtime.PushEvent(this, "clientHandler\0"u8) || Runtime.PushEvent(this, "onConnection\0"u8);
            TcpClientObject.PushAccepted(_module, Owner, L, fd); // the server's application owns it
            if (handled)
                Runtime.CallEvent(1, 0);
        }
        finally
        {
            LuaApi.lua_settop(L, top);
        }
    }

    public override void Close()
    {
        StopListening();
        Release();
    }

    public override void Collect()
    {
        StopListening();
        _tls?.Dispose(); // accepted clients' sessions hold their own reference
        _tls = null;
    }

    [UnmanagedCallersOnly]
    private static int Start(nint L) => HostFunction.Method<TcpServerObject>(L, &Start);

    private static int Start(nint L, TcpServerObject server)
    {
        string? invalid = server.ReadAddress(L, out NetAddress address, out bool wildcard, out int error);
        if (error != 0)
            return error;
        string? failure = invalid ?? server.StartListening(L, address, wildcard);
        if (failure is null)
        {
            LuaApi.lua_pushboolean(L, 1);
            return 1;
        }
        // docs/api.md, server:start: the ERROR is logged and the reason returned too, so that a
        // script can say why; the log names the script line that called start, not this file.
        string on = invalid is not null ? "" : wildcard ? $" on port {address.Port}" : $" on {address}";
        server.Runtime.LogAtScript(LogLevel.Error, $"TCPServer cannot start{on}: {failure}", ScriptRuntime.CallerPosition(L));
        server.StopListening();
        server.Release();
        LuaApi.lua_pushboolean(L, 0);
        LuaStrings.Push(L, failure);
        return 2;
    }

    [UnmanagedCallersOnly]
    private static int Stop(nint L) => HostFunction.Method<TcpServerObject>(L, &Stop);

    private static int Stop(nint L, TcpServerObject server)
    {
        server.Close();
        return 0;
    }

    // Answers the properties listed in CreateType (ScriptType.Properties): a property added or
    // removed here must be added or removed there and in docs/api.md (Docs/ApiReferenceTests).
    [UnmanagedCallersOnly]
    private static int Index(nint L) => HostFunction.Method<TcpServerObject>(L, &Index);

    private static int Index(nint L, TcpServerObject server)
    {
        ReadOnlySpan<byte> key = LuaApi.lua_type(L, 2) == LuaApi.LUA_TSTRING ? LuaStrings.Span(L, 2) : default;
        if (key.SequenceEqual("running"u8))
            LuaApi.lua_pushboolean(L, server._listener is null ? 0 : 1);
        else if (key.SequenceEqual("proxyProtocol"u8))
            LuaApi.lua_pushboolean(L, server._proxy is null ? 0 : 1);
        else if (key.SequenceEqual("port"u8))
        {
            if (server._listener is null)
                LuaApi.lua_pushnil(L);
            else
                LuaApi.lua_pushinteger(L, server._listener.Port);
        }
        else
            return ScriptType.IndexFields(L);
        return 1;
    }

    [UnmanagedCallersOnly]
    private static int NewIndex(nint L) => HostFunction.Method<TcpServerObject>(L, &NewIndex);

    /// <summary>proxyProtocol = true | false | {trusted sources}: only before start, since a
    /// connection accepted without it would take a header as its data.</summary>
    private static int NewIndex(nint L, TcpServerObject server)
    {
        if (LuaApi.lua_type(L, 2) != LuaApi.LUA_TSTRING || !LuaStrings.Span(L, 2).SequenceEqual("proxyProtocol"u8))
            return ScriptType.StoreField(L);
        if (server._listener is not null)
            return HostFunction.Raise(L, "proxyProtocol must be set before start");
        int type = LuaApi.lua_type(L, 3);
        if (type is LuaApi.LUA_TBOOLEAN or LuaApi.LUA_TNIL)
        {
            server._proxy = LuaApi.lua_toboolean(L, 3) != 0 ? ProxyTrust.Everyone : null;
            return 0;
        }
        if (type != LuaApi.LUA_TTABLE)
            return HostFunction.Raise(L, $"proxyProtocol: true, false or a list of trusted addresses expected, got {LuaStrings.TypeName(L, 3)}");
        long count = (long)LuaApi.lua_rawlen(L, 3);
        var entries = new string[count];
        for (long i = 1; i <= count; i++)
        {
            bool isString = LuaApi.lua_rawgeti(L, 3, i) == LuaApi.LUA_TSTRING;
            string? entry = isString ? LuaStrings.ToText(L, -1) : null;
            LuaApi.lua_pop(L, 1);
            if (entry is null)
                return HostFunction.Raise(L, $"proxyProtocol: entry {i} is not a string (an address or a CIDR range)");
            entries[i - 1] = entry;
        }
        ProxyTrust? trust = ProxyTrust.Parse(entries, out string? error);
        if (trust is null)
            return HostFunction.Raise(L, $"proxyProtocol: {error}");
        server._proxy = trust;
        return 0;
    }

    [UnmanagedCallersOnly]
    private static int ToText(nint L) => HostFunction.Method<TcpServerObject>(L, &ToText);

    private static int ToText(nint L, TcpServerObject server)
    {
        LuaStrings.Push(L, server._listener is null ? "TCPServer (stopped)" : "TCPServer " + server._boundText);
        return 1;
    }
}
