using System;
using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MonaAot.Diagnostics;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Lua.Runtime;
using MonaAot.Net;
using MonaAot.Net.Tls;

namespace MonaAot.Modules;

/// <summary>
/// TCPClient (docs/api.md, "TCPClient"): connect, send, disconnect, shutdown, pause, resume;
/// connected, address, peerAddress, proxyAddress, error, queueing, paused, allowHalfOpen, and for TLS secure,
/// tlsVersion, alpn, peerCertificate; onReception, onFlush, onEnd and onDisconnection. One object may connect again after a disconnection; each connection
/// is a <see cref="TcpConnection"/> of its own, and takes the object's paused and allowHalfOpen.
/// </summary>
public sealed unsafe class TcpClientObject : ScriptObject, ITcpConnectionEvents
{
    private readonly TcpModule _module;
    private TcpConnection? _connection;
    private NetFailure _error;      // its text made only if the script reads it
    private int _connects;          // connect() calls that started a connection
    private bool _clampWarned;
    private bool _paused;
    private bool _allowHalfOpen;
    private int _reportsDue;         // connections whose onDisconnection is still to come
    private TcpConnection? _flushed; // the connection whose onFlush is due, until it fires
    private Action? _fireFlush;      // made once: a relay flushes often
    private readonly TlsContext? _tls;         // a TLS client's own (null for an accepted one)
    private bool _acceptedSecure;              // accepted by a TLS server: its connection is TLS
    private readonly string? _tlsServerName;   // the serverName option; else the connect host
    private TcpServerObject? _acceptedBy;      // an accepted TLS client until its handshake is done

    private readonly bool _ownsTls;            // made from its own options: disposed with it

    internal TcpClientObject(TcpModule module, IResourceOwner? owner, TlsContext? tls = null, string? tlsServerName = null, bool ownsTls = false)
        : base(module.Runtime, owner)
    {
        _module = module;
        _tls = tls;
        _tlsServerName = tlsServerName;
        _ownsTls = ownsTls;
    }

    internal static ScriptType CreateType(ScriptRuntime runtime) =>
        new(runtime, "TCPClient",
            [("connect", (nint)(delegate* unmanaged<nint, int>)&Connect),
             ("send", (nint)(delegate* unmanaged<nint, int>)&Send),
             ("disconnect", (nint)(delegate* unmanaged<nint, int>)&Disconnect),
             ("shutdown", (nint)(delegate* unmanaged<nint, int>)&Shutdown),
             ("pause", (nint)(delegate* unmanaged<nint, int>)&Pause),
             ("resume", (nint)(delegate* unmanaged<nint, int>)&Resume)],
            ["connected", "error", "address", "peerAddress", "proxyAddress", "queueing", "paused", "allowHalfOpen",
             "secure", "tlsVersion", "alpn", "peerCertificate"],
            ["onReception", "onFlush", "onEnd", "onDisconnection"],
            &Index, &ToText, &NewIndex, directSend: "send", directSendCounter: runtime.Net.Stats.BytesSentCell);

    /// <summary>A client for a connection the server accepted, owned by <paramref name="owner"/>
    /// (the server's); pushes it on the stack.</summary>
    internal static TcpClientObject PushAccepted(TcpModule module, IResourceOwner? owner, nint L, nint fd)
    {
        TcpClientObject client = module.SpareClients.Take()?.Reuse(owner) ?? new TcpClientObject(module, owner);
        module.ClientType.Push(L, client);
        client._connection = TcpConnection.Accepted(module.Runtime.Net, fd, client);
        client._connection.ShareGate(client.Gate);
        client._reportsDue++;
        client.Retain(L, -1);
        return client;
    }

    /// <summary>A spare client (<see cref="Collected"/>) as a new one of
    /// <paramref name="owner"/> (null: of no one, while it waits in the pool): every field as
    /// the constructor leaves it for a plain client.</summary>
    internal TcpClientObject Reuse(IResourceOwner? owner)
    {
        Reinitialize(owner);
        _connection = null;
        _error = default;
        _clampWarned = false;
        _paused = false;
        _allowHalfOpen = false;
        _reportsDue = 0;
        _flushed = null;
        _acceptedSecure = false;
        _acceptedBy = null;
        return this;
    }

    /// <summary>A connection a TLS server, or a server with proxyProtocol, accepted: it reaches
    /// the server's clientHandler only once its handshake and its PROXY header are done
    /// (<see cref="OnConnected"/>); a failed one is logged at WARN (a health check's at DEBUG)
    /// and never reaches a script (<see cref="OnClosed"/>).</summary>
    internal static void AcceptDeferred(TcpModule module, TcpServerObject server, TlsContext? context, ProxyTrust? proxy, nint L, nint fd)
    {
        // The server's context is the connection's, not the object's: connect() again makes a
        // plain client, as for any accepted one (a server context cannot start a client session).
        // A spare client serves it as it would a plain accept (Collected: a client accepted by
        // a TLS server has no context of its own).
        TcpClientObject client = module.SpareClients.Take()?.Reuse(server.Owner) ?? new TcpClientObject(module, server.Owner);
        client._acceptedBy = server;
        client._acceptedSecure = context is not null;
        module.ClientType.Push(L, client);
        client.Retain(L, -1);
        LuaApi.lua_pop(L, 1);
        client._reportsDue++;
        client._connection = proxy is not null ? TcpConnection.AcceptedProxy(module.Runtime.Net, fd, client, proxy, context)
            : TcpConnection.AcceptedTls(module.Runtime.Net, fd, client, context!);
        client._connection.ShareGate(client.Gate); // kept closed until connected (TLS: for good)
    }

    /// <summary>Connects to <paramref name="address"/>, or to <paramref name="host"/> once
    /// resolved when the address is null.</summary>
    private string? StartConnect(nint L, NetAddress? address, string host, int port)
    {
        if (_connection is { IsOpen: true })
            return "already connected";
        _error = default;
        _connects++;
        _clampWarned = false;
        _acceptedSecure = false;
        TcpConnection? connection;
        if (_tls is null)
            connection = TcpConnection.ForConnect(Runtime.Net, this, reusable: address is not null);
        else if ((connection = TcpConnection.ForConnect(Runtime.Net, this, _tls, _tlsServerName ?? host, out string? failure)) is null)
            return failure;
        connection.Paused = _paused;
        connection.AllowHalfOpen = _allowHalfOpen;
        _connection = connection;
        connection.ShareGate(Gate);
        _reportsDue++;
        Retain(L, 1);
        if (address is { } now)
            connection.Connect(now);
        else
            ResolveThenConnect(connection, host, port);
        return null;
    }

    /// <summary>Resolves off the loop; the answer is applied to <paramref name="connection"/>,
    /// which acts on it only if it is still the one waiting for it.</summary>
    private void ResolveThenConnect(TcpConnection connection, string host, int port) =>
        Runtime.ResolveThenPost(host, (addresses, failure) =>
        {
            if (addresses is not null)
                connection.Connect(Array.ConvertAll(addresses, ip => NetAddress.From(ip, port)));
            else
                connection.FailResolve(failure!);
        });

    public void OnConnected(TcpConnection connection)
    {
        if (_acceptedBy is { } server)
        {
            _acceptedBy = null;
            server.HandOver(this);
        }
    }

    /// <summary>onReception(data) and its bytes-left answer (docs/api.md, "onReception(data)"), in
    /// one shim call.</summary>
    public int OnReceived(TcpConnection connection, ReadOnlySpan<byte> data)
    {
        if (SelfRef == LuaApi.LUA_NOREF)
            return 0;
        double rest;
        int called;
        fixed (byte* bytes = data)
            called = Shim.mona_reception(Runtime.Vm.L, SelfRef, Runtime.ReceptionName, bytes, (nuint)data.Length, &rest);
        if (called < 0)
        {
            Runtime.LogScriptError(); // a handler that raised consumed everything
            return 0;
        }
        if (rest > data.Length)
        {
            if (!_clampWarned)
                WarnClamped(rest, data.Length);
            return data.Length;
        }
        return rest > 0 ? (int)rest : 0;
    }

    /// <summary>Out of line: inlined, its text made OnReceived's stack frame large, zeroed on
    /// every message (docs/performance.md, "Issue 19: CPU per message").</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WarnClamped(double rest, int length)
    {
        _clampWarned = true;
        // The handler has returned: the message names where it is defined.
        Runtime.LogAtScript(LogLevel.Warn, $"onReception returned {rest}, more than the {length} bytes received: clamped",
            Runtime.HandlerPosition(this, "onReception\0"u8));
    }

    /// <summary>onEnd(): the peer's FIN with allowHalfOpen, after the data before it.</summary>
    public void OnEnd(TcpConnection connection)
    {
        if (Runtime.PushEvent(this, "onEnd\0"u8))
            Runtime.CallEvent(0, 0);
    }

    /// <summary>onFlush() on the next loop turn (docs/api.md, "onFlush()": never inside send), once
    /// however many flushes came before it, and only if the connection is still open
    /// then.</summary>
    public void OnFlushed(TcpConnection connection)
    {
        bool posted = _flushed is not null;
        _flushed = connection;
        if (!posted)
            Runtime.Loop.Post(_fireFlush ??= FireFlush);
    }

    /// <summary>Only for the connection that flushed, if it is still the object's and open (not
    /// ended, not disconnected, not replaced by a new connect).</summary>
    private void FireFlush()
    {
        TcpConnection? flushed = _flushed;
        _flushed = null;
        if (flushed is { IsOpen: true } && flushed == _connection && Runtime.PushEvent(this, "onFlush\0"u8))
            Runtime.CallEvent(0, 0);
    }

    public void OnClosed(TcpConnection connection, NetFailure error)
    {
        // A connect made since then cleared error for the new connection: an old connection's
        // reason shows only during its own onDisconnection.
        NetFailure kept = _error;
        int connects = _connects;
        bool borrowed = false;
        _reportsDue--;
        if (_acceptedBy is { } server)
        {
            // Its handshake failed: no script knows this client (SPEC: logged, never reported).
            _acceptedBy = null;
            _connection = null;
            string message = $"TCPServer {server.Port}: {error.Text ?? "TLS handshake not completed"} (client {connection.SocketPeerText ?? "?"})";
            if (connection.EndedQuietly)
                Runtime.Logger.Debug(message); // a balancer's health check: one per check would flood the log
            else if (connection.BehindProxy)
                server.WarnRefused(message); // a flood of bad headers must not flood the log
            else
                Runtime.Logger.Warn(message);
            Release();
            Forget(connection);
            return;
        }
        if (_connection == connection)
        {
            _connection = null;
            if (error.IsError)
                _error = error;
        }
        else
        {
            _error = error; // an earlier connection's end: its reason (or none), for this event only
            borrowed = true;
        }
        if (Runtime.PushEvent(this, "onDisconnection\0"u8))
            Runtime.CallEvent(0, 0);
        if (borrowed && _connects == connects)
            _error = kept; // unless the handler connected again, which cleared it
        // Alive while any connection of it still owes its report (one may be draining while
        // the script connected again).
        if (_connection is null && _reportsDue == 0)
            Release();
        Forget(connection);
    }

    /// <summary>This object refers to <paramref name="connection"/> no more (it ended, or was
    /// handed back): it may serve another accept (TcpConnection.Recycling.cs).</summary>
    private void Forget(TcpConnection connection)
    {
        if (_flushed == connection)
            _flushed = null; // its onFlush, if still queued, is not due any more
        connection.Release();
    }

    /// <summary>Graceful disconnect; onDisconnection follows once the queue is handed over and
    /// the FIN sent (or with the reason it could not be), on a later loop turn.</summary>
    private void StartDisconnect()
    {
        if (_connection is { IsOpen: true } connection)
            connection.Disconnect();
    }

    private void SetPaused(bool paused)
    {
        _paused = paused;
        if (_connection is { } connection)
            connection.Paused = paused;
    }

    public override void Close()
    {
        if (_connection is { } connection)
        {
            connection.Disconnect(report: false);
            _reportsDue--; // it reports nothing now
            Forget(connection);
        }
        _connection = null;
        Release();
    }

    public override void Collect()
    {
        if (_connection is { } connection)
        {
            connection.Abort();
            Forget(connection);
        }
        _connection = null;
        if (_ownsTls)
            _tls!.Dispose(); // sessions still running hold their own reference
    }

    /// <summary>A plain client whose userdata is gone, with no connection left that could
    /// still report to it, waits for the next accept (docs/architecture.md, "Connection
    /// pooling"). A TLS client keeps its own context and server name: it is left to the
    /// garbage collector.</summary>
    public override void Collected()
    {
        if (_tls is null && _tlsServerName is null && !IsHeld && _connection is null && _reportsDue == 0)
        {
            // Reset now, not only when taken: a spare client must not keep the application that
            // last owned it (nor its server) alive after a reload or stop.
            _module.SpareClients.Return(Reuse(null));
        }
    }

    [UnmanagedCallersOnly]
    private static int Connect(nint L) => HostFunction.Method<TcpClientObject>(L, &Connect);

    private static int Connect(nint L, TcpClientObject client)
    {
        if (!AddressArgs.Read(L, 2, AddressForms.TcpConnect, out string host, out int port, out string? failure, out int error))
            return error;
        // Text that can be no name (999.1.1.1) fails here rather than going to DNS, as for UDP.
        NetAddress? address = failure is null ? AddressArgs.Locate(host, port, null, null, out failure) : null;
        failure ??= client.StartConnect(L, address, host, port);
        return HostFunction.MessageOrNothing(L, failure);
    }

    [UnmanagedCallersOnly]
    private static int Send(nint L) => HostFunction.Method<TcpClientObject>(L, &Send);

    private static int Send(nint L, TcpClientObject client)
    {
        if (!Args.String(L, 2, out ReadOnlySpan<byte> data, out int error))
            return error;
        // The direct path (mona_pushdirectsend) may have sent the start of it already.
        DirectWriteGate* gate = client.Gate;
        if (gate != null && gate->Partial > 0)
        {
            data = data[Math.Min(gate->Partial, data.Length)..];
            gate->Partial = 0;
        }
        string? failure = client._connection is null ? "not connected" : client._connection.Send(data);
        return HostFunction.MessageOrNothing(L, failure);
    }

    [UnmanagedCallersOnly]
    private static int Disconnect(nint L) => HostFunction.Method<TcpClientObject>(L, &Disconnect);

    private static int Disconnect(nint L, TcpClientObject client)
    {
        client.StartDisconnect();
        return 0;
    }

    [UnmanagedCallersOnly]
    private static int Shutdown(nint L) => HostFunction.Method<TcpClientObject>(L, &Shutdown);

    private static int Shutdown(nint L, TcpClientObject client)
    {
        string? failure = client._connection is null ? "not connected" : client._connection.Shutdown();
        return HostFunction.MessageOrNothing(L, failure);
    }

    [UnmanagedCallersOnly]
    private static int Pause(nint L) => HostFunction.Method<TcpClientObject>(L, &Pause);

    private static int Pause(nint L, TcpClientObject client)
    {
        client.SetPaused(true);
        return 0;
    }

    [UnmanagedCallersOnly]
    private static int Resume(nint L) => HostFunction.Method<TcpClientObject>(L, &Resume);

    private static int Resume(nint L, TcpClientObject client)
    {
        client.SetPaused(false);
        return 0;
    }

    // Answers the properties listed in CreateType (ScriptType.Properties): a property added or
    // removed here must be added or removed there and in docs/api.md (Docs/ApiReferenceTests).
    [UnmanagedCallersOnly]
    private static int Index(nint L) => HostFunction.Method<TcpClientObject>(L, &Index);

    private static int Index(nint L, TcpClientObject client)
    {
        ReadOnlySpan<byte> key = LuaApi.lua_type(L, 2) == LuaApi.LUA_TSTRING ? LuaStrings.Span(L, 2) : default;
        if (key.SequenceEqual("connected"u8))
            LuaApi.lua_pushboolean(L, client._connection is { IsConnected: true } ? 1 : 0);
        else if (key.SequenceEqual("error"u8))
        {
            client._error = client._error.Resolved(); // made once, however often it is read
            PushOptional(L, client._error.Text);
        }
        else if (key.SequenceEqual("address"u8))
            PushOptional(L, client._connection?.LocalAddress);
        else if (key.SequenceEqual("peerAddress"u8))
            PushOptional(L, client._connection?.PeerAddress);
        else if (key.SequenceEqual("proxyAddress"u8))
            PushOptional(L, client._connection?.ProxyAddress);
        else if (key.SequenceEqual("queueing"u8))
            LuaApi.lua_pushinteger(L, client._connection?.Queued ?? 0);
        else if (key.SequenceEqual("paused"u8))
            LuaApi.lua_pushboolean(L, client._paused ? 1 : 0);
        else if (key.SequenceEqual("allowHalfOpen"u8))
            LuaApi.lua_pushboolean(L, client._allowHalfOpen ? 1 : 0);
        else if (key.SequenceEqual("secure"u8))
            LuaApi.lua_pushboolean(L, client._tls is not null || client._acceptedSecure ? 1 : 0);
        else if (key.SequenceEqual("tlsVersion"u8))
            PushOptional(L, client._connection?.TlsVersion);
        else if (key.SequenceEqual("alpn"u8))
            PushOptional(L, client._connection?.TlsAlpn);
        else if (key.SequenceEqual("peerCertificate"u8))
            PushOptional(L, client._connection?.TlsPeerSubject);
        else
            return ScriptType.IndexFields(L);
        return 1;
    }

    /// <summary>allowHalfOpen takes any value as Lua truth; every other assignment is a field.</summary>
    [UnmanagedCallersOnly]
    private static int NewIndex(nint L) => HostFunction.Method<TcpClientObject>(L, &NewIndex);

    private static int NewIndex(nint L, TcpClientObject client)
    {
        if (LuaApi.lua_type(L, 2) == LuaApi.LUA_TSTRING && LuaStrings.Span(L, 2).SequenceEqual("allowHalfOpen"u8))
        {
            client._allowHalfOpen = LuaApi.lua_toboolean(L, 3) != 0;
            if (client._connection is { } connection)
                connection.AllowHalfOpen = client._allowHalfOpen;
            return 0;
        }
        return ScriptType.StoreField(L);
    }

    internal static void PushOptional(nint L, string? text)
    {
        if (text is null)
            LuaApi.lua_pushnil(L);
        else
            LuaStrings.Push(L, text);
    }

    [UnmanagedCallersOnly]
    private static int ToText(nint L) => HostFunction.Method<TcpClientObject>(L, &ToText);

    private static int ToText(nint L, TcpClientObject client)
    {
        TcpConnection? c = client._connection;
        LuaStrings.Push(L, c is { IsConnected: true } ? $"TCPClient {c.LocalAddress} -> {c.PeerAddress}"
            : c is { IsOpen: true } ? "TCPClient (connecting)" : "TCPClient (not connected)");
        return 1;
    }
}
