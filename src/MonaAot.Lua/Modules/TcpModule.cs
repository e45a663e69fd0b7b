using System;
using System.Runtime.InteropServices;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Runtime;

namespace MonaAot.Lua.Modules;

/// <summary>
/// mona:createTCPClient() and mona:createTCPServer() (docs/api.md, "TCPClient", "TCPServer"):
/// installs both types and the two factories on the mona table (on top of the stack when <see
/// cref="Install"/> runs). This object is the context (upvalue 2) of every TCP host function.
/// </summary>
public sealed unsafe class TcpModule : IScriptModule
{
    private TcpModule(ScriptRuntime runtime) => Runtime = runtime;

    public ScriptRuntime Runtime { get; }
    public ScriptType ClientType { get; private set; } = null!;
    public ScriptType ServerType { get; private set; } = null!;

    /// <summary>Adds createTCPClient/createTCPServer to the table on top of the stack.</summary>
    public static TcpModule Install(ScriptRuntime runtime)
    {
        var module = new TcpModule(runtime);
        GCHandle context = runtime.Vm.Keep(module);
        module.ClientType = TcpClientObject.CreateType(runtime, context);
        module.ServerType = TcpServerObject.CreateType(runtime, context);
        nint L = runtime.Vm.L;
        LuaStrings.Push(L, "createTCPClient");
        HostFunction.Push(L, &CreateClient, context);
        runtime.Vm.State.RawSet(-3);
        LuaStrings.Push(L, "createTCPServer");
        HostFunction.Push(L, &CreateServer, context);
        runtime.Vm.State.RawSet(-3);
        return module;
    }

    [UnmanagedCallersOnly]
    private static int CreateClient(nint L)
    {
        try
        {
            var module = HostFunction.Context<TcpModule>(L);
            module.ClientType.Push(L, new TcpClientObject(module));
            return 1;
        }
        catch (Exception e)
        {
            return HostFunction.Fail(L, e);
        }
    }

    [UnmanagedCallersOnly]
    private static int CreateServer(nint L)
    {
        try
        {
            var module = HostFunction.Context<TcpModule>(L);
            module.ServerType.Push(L, new TcpServerObject(module));
            return 1;
        }
        catch (Exception e)
        {
            return HostFunction.Fail(L, e);
        }
    }
}
