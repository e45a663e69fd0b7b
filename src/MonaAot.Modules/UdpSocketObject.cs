using System;
using System.Collections.Generic;
using System.Net;
using System.Runtime.InteropServices;
using MonaAot.Diagnostics;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Lua.Runtime;
using MonaAot.Net;

namespace MonaAot.Modules;

/// <summary>
/// UDPSocket (docs/api.md, "UDPSocket"): bind, connect, send, close; joinGroup/leaveGroup; address,
/// peerAddress, multicastLoop and multicastTTL (settable); onReception(data, address). Alive while
/// it has a socket open (bound, connected, or after a first send), released by close().
/// </summary>
public sealed unsafe class UdpSocketObject : ScriptObject, IUdpSocketEvents
{
    private readonly UdpModule _module;
    private readonly UdpSocket _socket;
    private readonly bool _allowBroadcast;
    // Addresses send() was given and what they parsed to: "host:port" strings (port -1 in the
    // key) and (host, port) pairs, keyed by the Lua string's address (short strings are
    // interned, so the text onReception gave for a sender is the same string each time) and
    // checked against a copy of the text, in case that string was collected and its memory
    // reused. Replying costs no parsing and no allocation. Forgotten when the hosts file
    // changes, since a name may then stand for another address.
    private const int DestinationCacheLimit = 1024;
    // The Lua string of each sender's address, held in the registry: pushed without encoding,
    // and kept alive, so that the same sender always gives the same string (and so the
    // destination cache above hits when the script replies). Keyed by the C# text instance,
    // which UdpSocket gives once per sender.
    private readonly Dictionary<string, int> _senderRefs = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<(nint Text, long Port), (byte[] Text, NetAddress Address)> _destinations = new();
    private object? _hostsVersion;

    internal UdpSocketObject(UdpModule module, IResourceOwner? owner, bool allowBroadcast) : base(module.Runtime, owner)
    {
        _module = module;
        _allowBroadcast = allowBroadcast;
        _socket = new UdpSocket(module.Runtime.Net, this, allowBroadcast)
        {
            BroadcastAdvice = "create the socket with mona:createUDPSocket(true)",
        };
    }

    internal static ScriptType CreateType(ScriptRuntime runtime) =>
        new(runtime, "UDPSocket",
            [("bind", (nint)(delegate* unmanaged<nint, int>)&Bind),
             ("connect", (nint)(delegate* unmanaged<nint, int>)&Connect),
             ("send", (nint)(delegate* unmanaged<nint, int>)&Send),
             ("close", (nint)(delegate* unmanaged<nint, int>)&CloseMethod),
             ("joinGroup", (nint)(delegate* unmanaged<nint, int>)&JoinGroup),
             ("leaveGroup", (nint)(delegate* unmanaged<nint, int>)&LeaveGroup)],
            ["address", "peerAddress", "multicastLoop", "multicastTTL", "allowBroadcast", "queueing"],
            ["onReception"],
            &Index, &ToText, &NewIndex);

    /// <summary>onReception(data, address) in one shim call (mona_datagram), the sender's
    /// string pushed from its registry reference.</summary>
    public void OnDatagram(UdpSocket socket, ReadOnlySpan<byte> data, string from)
    {
        if (SelfRef == LuaApi.LUA_NOREF)
            return;
        nint L = Runtime.Vm.L;
        int sender = SenderRef(L, from);
        int called;
        fixed (byte* bytes = data)
            called = Shim.mona_datagram(L, SelfRef, Runtime.ReceptionName, bytes, (nuint)data.Length, sender);
        if (called < 0)
            Runtime.LogScriptError();
    }

    /// <summary>The registry reference of the Lua string of <paramref name="from"/>, made at
    /// the first datagram from that sender.</summary>
    private int SenderRef(nint L, string from)
    {
        if (_senderRefs.TryGetValue(from, out int reference))
            return reference;
        if (_senderRefs.Count >= DestinationCacheLimit)
            ForgetSenders();
        LuaStrings.Push(L, from);
        reference = LuaApi.luaL_ref(L, LuaApi.LUA_REGISTRYINDEX);
        _senderRefs.Add(from, reference);
        return reference;
    }

    private void ForgetSenders()
    {
        foreach (int reference in _senderRefs.Values)
            LuaApi.luaL_unref(Runtime.Vm.L, LuaApi.LUA_REGISTRYINDEX, reference);
        _senderRefs.Clear();
        _destinations.Clear();
    }

    /// <summary>Keeps the object alive once its socket is open (docs/api.md, "Conventions",
    /// lifetime).</summary>
    private void RetainIfOpen(nint L)
    {
        if (_socket.IsOpen)
            Retain(L, 1);
    }

    public override void Close()
    {
        _socket.Close();
        ForgetSenders();
        Release();
    }

    public override void Collect()
    {
        _socket.Close();
        ForgetSenders();
    }

    private delegate string? AddressOperation(UdpSocketObject self, NetAddress address);

    /// <summary>Runs <paramref name="operation"/> on the address at <paramref name="arg"/>: at once
    /// for a numeric address or a hosts-file name; else, when <paramref name="resolve"/>, after
    /// resolving it off the loop (a failure then is logged, there being no caller left to return it
    /// to). bind does not resolve: it answers at once (docs/api.md, "Conventions",
    /// addresses).</summary>
    private static int WithAddress(nint L, UdpSocketObject self, int arg, string what, bool resolve, AddressOperation operation)
    {
        if (!AddressArgs.Read(L, arg, AddressForms.Udp, out string host, out int port, out string? failure, out int error))
            return error;
        if (failure is null && AddressArgs.Locate(host, port, self.Runtime.Hosts, resolve ? null : what, out failure) is { } address)
            failure = operation(self, address);
        else if (failure is null)
            self.ResolveThen(host, port, what, operation, ScriptRuntime.CallerPosition(L));
        self.RetainIfOpen(L);
        return HostFunction.MessageOrNothing(L, failure);
    }

    /// <remarks><paramref name="at"/>: the script line of the call, which the late messages name.</remarks>
    private void ResolveThen(string host, int port, string what, AddressOperation operation, ScriptPosition at) =>
        Runtime.ResolveThenPost(host, (addresses, failure) =>
        {
            failure ??= operation(this, NetAddress.From(addresses![0], port));
            if (failure is not null)
                Runtime.LogAtScript(LogLevel.Warn, $"{what} {host}:{port}: {failure}", at);
            else if (_socket.IsOpen && SelfRef == LuaApi.LUA_NOREF)
                Runtime.LogAtScript(LogLevel.Debug, $"{what} {host}:{port} done after the script let go of the socket", at);
        });

    [UnmanagedCallersOnly]
    private static int Bind(nint L) => HostFunction.Method<UdpSocketObject>(L, &Bind);

    private static int Bind(nint L, UdpSocketObject self) =>
        WithAddress(L, self, 2, "bind", resolve: false, static (s, address) => s._socket.Bind(address));

    [UnmanagedCallersOnly]
    private static int Connect(nint L) => HostFunction.Method<UdpSocketObject>(L, &Connect);

    private static int Connect(nint L, UdpSocketObject self) =>
        WithAddress(L, self, 2, "connect", resolve: true, static (s, address) => s._socket.Connect(address));

    [UnmanagedCallersOnly]
    private static int Send(nint L) => HostFunction.Method<UdpSocketObject>(L, &Send);

    private static int Send(nint L, UdpSocketObject self)
    {
        if (!Args.String(L, 2, out ReadOnlySpan<byte> data, out int error))
            return error;
        string? failure;
        if (Args.IsNoneOrNil(L, 3))
        {
            failure = self._socket.Send(data, null);
        }
        else if (self.CachedDestination(L, out NetAddress cached))
        {
            failure = self._socket.Send(data, &cached);
        }
        else if (!AddressArgs.Read(L, 3, AddressForms.Udp, out string host, out int port, out string? invalid, out error))
        {
            return error;
        }
        else if (invalid is null && AddressArgs.Locate(host, port, self.Runtime.Hosts, null, out invalid) is { } address)
        {
            self.RememberDestination(L, address);
            failure = self._socket.Send(data, &address);
        }
        else if (invalid is null)
        {
            byte[] copy = data.ToArray(); // only for a name that must be resolved first
            self.ResolveThen(host, port, "send to", (s, a) => s._socket.Send(copy, &a), ScriptRuntime.CallerPosition(L));
            failure = null;
        }
        else
        {
            failure = invalid;
        }
        if (failure is not null && self._socket.PeerUnreachable)
            self.LogAtCaller(L, LogLevel.Warn, $"UDPSocket send: {failure}");
        self.RetainIfOpen(L);
        return HostFunction.MessageOrNothing(L, failure);
    }

    /// <summary>Logs <paramref name="message"/> at the script line that called the host function
    /// (through pcall too).</summary>
    private void LogAtCaller(nint L, LogLevel level, string message) =>
        Runtime.LogAtScript(level, message, ScriptRuntime.CallerPosition(L));

    /// <summary>The cache key of the address at argument 3 ("host:port", or host and an integer
    /// port); false for other forms, which are parsed each time.</summary>
    private static bool DestinationKey(nint L, out (nint Text, long Port) key, out ReadOnlySpan<byte> text)
    {
        key = default;
        text = default;
        if (LuaApi.lua_type(L, 3) != LuaApi.LUA_TSTRING)
            return false;
        long port = -1;
        if (!Args.IsNoneOrNil(L, 4))
        {
            int isInteger;
            if (LuaApi.lua_type(L, 4) != LuaApi.LUA_TNUMBER)
                return false;
            port = LuaApi.lua_tointegerx(L, 4, &isInteger);
            if (isInteger == 0)
                return false;
        }
        nuint length;
        byte* p = LuaApi.lua_tolstring_of_string(L, 3, &length); // a string: no conversion, no GC transition
        text = new ReadOnlySpan<byte>(p, (int)length);
        key = ((nint)p, port);
        return true;
    }

    /// <summary>True when argument 3 (and 4) is an address sent to before (and still cached).</summary>
    private bool CachedDestination(nint L, out NetAddress address)
    {
        address = default;
        object version = Runtime.Hosts.Version;
        if (!ReferenceEquals(version, _hostsVersion))
        {
            _destinations.Clear();
            _hostsVersion = version;
            return false;
        }
        if (!DestinationKey(L, out var key, out ReadOnlySpan<byte> text)
            || !_destinations.TryGetValue(key, out var cached) || !text.SequenceEqual(cached.Text))
            return false;
        address = cached.Address;
        return true;
    }

    private void RememberDestination(nint L, NetAddress address)
    {
        if (!DestinationKey(L, out var key, out ReadOnlySpan<byte> text))
            return;
        if (_destinations.Count >= DestinationCacheLimit)
            _destinations.Clear();
        _destinations[key] = (text.ToArray(), address);
    }

    [UnmanagedCallersOnly]
    private static int CloseMethod(nint L) => HostFunction.Method<UdpSocketObject>(L, &CloseMethod);

    private static int CloseMethod(nint L, UdpSocketObject self)
    {
        self.Close();
        return 0;
    }

    [UnmanagedCallersOnly]
    private static int JoinGroup(nint L) => HostFunction.Method<UdpSocketObject>(L, &JoinGroup);

    private static int JoinGroup(nint L, UdpSocketObject self) => Membership(L, self, join: true);

    [UnmanagedCallersOnly]
    private static int LeaveGroup(nint L) => HostFunction.Method<UdpSocketObject>(L, &LeaveGroup);

    private static int LeaveGroup(nint L, UdpSocketObject self) => Membership(L, self, join: false);

    private static int Membership(nint L, UdpSocketObject self, bool join)
    {
        if (!Args.Text(L, 2, out string group, out int error))
            return error;
        string? networkInterface = null;
        if (!Args.IsNoneOrNil(L, 3) && !Args.Text(L, 3, out networkInterface, out error))
            return error;
        string? failure = IPAddress.TryParse(group, out IPAddress? ip) && IsMulticast(ip)
            ? self._socket.SetMembership(ip, networkInterface, join)
            : $"invalid multicast group {AddressText.Quote(group)}";
        return HostFunction.MessageOrNothing(L, failure);
    }

    private static bool IsMulticast(IPAddress ip) =>
        ip.IsIPv6Multicast || (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && (ip.GetAddressBytes()[0] & 0xF0) == 0xE0);

    // Answers the properties listed in CreateType (ScriptType.Properties): a property added or
    // removed here must be added or removed there and in docs/api.md (Docs/ApiReferenceTests).
    [UnmanagedCallersOnly]
    private static int Index(nint L) => HostFunction.Method<UdpSocketObject>(L, &Index);

    private static int Index(nint L, UdpSocketObject self)
    {
        ReadOnlySpan<byte> key = LuaApi.lua_type(L, 2) == LuaApi.LUA_TSTRING ? LuaStrings.Span(L, 2) : default;
        if (key.SequenceEqual("address"u8))
            TcpClientObject.PushOptional(L, self._socket.LocalAddress);
        else if (key.SequenceEqual("peerAddress"u8))
            TcpClientObject.PushOptional(L, self._socket.PeerAddress);
        else if (key.SequenceEqual("multicastLoop"u8))
            LuaApi.lua_pushboolean(L, self._socket.MulticastLoop ? 1 : 0);
        else if (key.SequenceEqual("multicastTTL"u8))
            LuaApi.lua_pushinteger(L, self._socket.MulticastTtl);
        else if (key.SequenceEqual("allowBroadcast"u8))
            LuaApi.lua_pushboolean(L, self._allowBroadcast ? 1 : 0);
        else if (key.SequenceEqual("queueing"u8))
            LuaApi.lua_pushinteger(L, self._socket.Queued);
        else
            return ScriptType.IndexFields(L);
        return 1;
    }

    /// <summary>multicastLoop and multicastTTL are set on the socket; anything else is a field.</summary>
    [UnmanagedCallersOnly]
    private static int NewIndex(nint L) => HostFunction.Method<UdpSocketObject>(L, &NewIndex);

    private static int NewIndex(nint L, UdpSocketObject self)
    {
        ReadOnlySpan<byte> key = LuaApi.lua_type(L, 2) == LuaApi.LUA_TSTRING ? LuaStrings.Span(L, 2) : default;
        if (key.SequenceEqual("multicastLoop"u8))
        {
            self._socket.MulticastLoop = LuaApi.lua_toboolean(L, 3) != 0;
            return 0;
        }
        if (key.SequenceEqual("multicastTTL"u8))
        {
            if (!Args.Integer(L, 3, out long ttl, out int error))
                return error;
            if (ttl is < 0 or > 255)
                return HostFunction.Raise(L, $"multicastTTL must be from 0 to 255, got {ttl}");
            self._socket.MulticastTtl = (int)ttl;
            return 0;
        }
        return ScriptType.StoreField(L);
    }

    [UnmanagedCallersOnly]
    private static int ToText(nint L) => HostFunction.Method<UdpSocketObject>(L, &ToText);

    private static int ToText(nint L, UdpSocketObject self)
    {
        string? local = self._socket.LocalAddress, peer = self._socket.PeerAddress;
        LuaStrings.Push(L, local is null ? "UDPSocket (closed)" : peer is null ? $"UDPSocket {local}" : $"UDPSocket {local} -> {peer}");
        return 1;
    }
}
