using System;
using System.Runtime.InteropServices;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Runtime;

namespace MonaAot.Modules;

/// <summary>
/// mona:createTCPClient() and mona:createTCPServer() (docs/api.md, "TCPClient", "TCPServer"):
/// installs both types and the two factories on the mona table. This object is the context
/// (upvalue 2) of the two factories, the owner of what they make upvalue 3 (<see cref="Owners"/>);
/// each type's methods have the type as theirs.
/// </summary>
public sealed unsafe class TcpModule
{
    private TcpModule(ScriptRuntime runtime) => Runtime = runtime;

    public ScriptRuntime Runtime { get; }
    public ScriptType ClientType { get; private set; } = null!;
    public ScriptType ServerType { get; private set; } = null!;

    /// <summary>Adds createTCPClient/createTCPServer to <paramref name="mona"/>.</summary>
    public static TcpModule Install(ScriptRuntime runtime, MonaObject mona)
    {
        var module = new TcpModule(runtime);
        GCHandle context = runtime.Vm.Keep(module);
        module.ClientType = TcpClientObject.CreateType(runtime);
        module.ServerType = TcpServerObject.CreateType(runtime);
        mona.AddFactory("createTCPClient", &CreateClient, context);
        mona.AddFactory("createTCPServer", &CreateServer, context);
        return module;
    }

    [UnmanagedCallersOnly]
    private static int CreateClient(nint L) => HostFunction.Function<TcpModule>(L, &CreateClient);

    private static int CreateClient(nint L, TcpModule module)
    {
        module.ClientType.Push(L, new TcpClientObject(module, Owners.OfFactory(L)));
        return 1;
    }

    [UnmanagedCallersOnly]
    private static int CreateServer(nint L) => HostFunction.Function<TcpModule>(L, &CreateServer);

    private static int CreateServer(nint L, TcpModule module)
    {
        module.ServerType.Push(L, new TcpServerObject(module, Owners.OfFactory(L)));
        return 1;
    }
}
