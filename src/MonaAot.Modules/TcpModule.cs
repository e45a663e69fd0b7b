using System;
using System.Runtime.InteropServices;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Lua.Runtime;
using MonaAot.Net.Tls;

namespace MonaAot.Modules;

/// <summary>
/// mona:createTCPClient([tls]) and mona:createTCPServer([tls]) (docs/api.md, "TCPClient",
/// "TCPServer", "TLS"):
/// installs both types and the two factories on the mona table. This object is the context
/// (upvalue 2) of the two factories, the owner of what they make upvalue 3 (<see cref="Owners"/>);
/// each type's methods have the type as theirs.
/// </summary>
public sealed unsafe class TcpModule
{
    private readonly string _wwwRoot;
    private readonly string? _tlsCertificate;
    private readonly string? _tlsKey;
    private TlsContext? _defaultClientContext; // createTCPClient(true): one for all, made on first use

    private TcpModule(ScriptRuntime runtime, string wwwRoot, string? tlsCertificate, string? tlsKey)
    {
        Runtime = runtime;
        _wwwRoot = wwwRoot;
        _tlsCertificate = tlsCertificate;
        _tlsKey = tlsKey;
    }

    public ScriptRuntime Runtime { get; }
    public ScriptType ClientType { get; private set; } = null!;
    public ScriptType ServerType { get; private set; } = null!;

    /// <summary>Clients whose userdata was collected, for the next accepts
    /// (<see cref="TcpClientObject.Collected"/>): enough for the garbage of a Lua collection
    /// cycle under connection churn, about a hundred bytes each.</summary>
    internal MonaAot.Collections.Pool<TcpClientObject> SpareClients { get; } = new(4096);

    /// <summary>Adds createTCPClient/createTCPServer to <paramref name="mona"/>. Relative TLS
    /// file names of code outside any application start from <paramref name="wwwRoot"/>;
    /// createTCPServer(true) uses <paramref name="tlsCertificate"/> and <paramref name="tlsKey"/>
    /// ([tls] certificate and key, absolute).</summary>
    public static TcpModule Install(ScriptRuntime runtime, MonaObject mona, string wwwRoot = ".", string? tlsCertificate = null, string? tlsKey = null)
    {
        var module = new TcpModule(runtime, wwwRoot, tlsCertificate, tlsKey);
        GCHandle context = runtime.Vm.Keep(module);
        module.ClientType = TcpClientObject.CreateType(runtime);
        module.ServerType = TcpServerObject.CreateType(runtime);
        runtime.Loop.Spares.Add(module.SpareClients); // dropped by the idle trim
        mona.AddFactory("createTCPClient", &CreateClient, context);
        mona.AddFactory("createTCPServer", &CreateServer, context);
        return module;
    }

    [UnmanagedCallersOnly]
    private static int CreateClient(nint L) => HostFunction.Function<TcpModule>(L, &CreateClient);

    private static int CreateClient(nint L, TcpModule module)
    {
        IResourceOwner? owner = Owners.OfFactory(L);
        if (!TlsArgs.Read(L, 2, server: false, module.PlacesFor(owner), out TlsOptions? options, out string? serverName, out int error))
            return error;
        TlsContext? context = null;
        if (options is not null)
        {
            bool defaults = LuaApi.lua_type(L, 2) == LuaApi.LUA_TBOOLEAN;
            context = defaults ? module._defaultClientContext : null;
            if (context is null)
            {
                context = TlsArgs.Context(L, 2, options, out error);
                if (context is null)
                    return error;
                if (defaults)
                    module._defaultClientContext = context;
            }
        }
        // A plain client may be a spare one (docs/architecture.md, "Connection pooling").
        TcpClientObject client = context is null && serverName is null && module.SpareClients.Take() is { } spare
            ? spare.Reuse(owner)
            : new TcpClientObject(module, owner, context, serverName, ownsTls: context is not null && context != module._defaultClientContext);
        module.ClientType.Push(L, client);
        return 1;
    }

    /// <summary>Where relative TLS file names of <paramref name="owner"/>'s scripts start, and
    /// the configuration's certificate.</summary>
    internal TlsArgs.Places PlacesFor(IResourceOwner? owner) => new(owner?.Folder ?? _wwwRoot, _tlsCertificate, _tlsKey);

    [UnmanagedCallersOnly]
    private static int CreateServer(nint L) => HostFunction.Function<TcpModule>(L, &CreateServer);

    private static int CreateServer(nint L, TcpModule module)
    {
        IResourceOwner? owner = Owners.OfFactory(L);
        if (!TlsArgs.Read(L, 2, server: true, module.PlacesFor(owner), out TlsOptions? options, out _, out int error))
            return error;
        TlsContext? context = null;
        if (options is not null && (context = TlsArgs.Context(L, 2, options, out error)) is null)
            return error;
        module.ServerType.Push(L, new TcpServerObject(module, owner, context));
        return 1;
    }
}
