using System;
using System.Runtime.InteropServices;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Lua.Runtime;

namespace MonaAot.Modules;

/// <summary>mona:createUDPSocket([allowBroadcast]) (docs/api.md, "UDPSocket"): installs the type
/// and the factory on the mona table. This object is the context of every UDP host function; the
/// factory's upvalue 3 is the owner of the sockets it makes (<see cref="Owners"/>).</summary>
public sealed unsafe class UdpModule
{
    private UdpModule(ScriptRuntime runtime) => Runtime = runtime;

    public ScriptRuntime Runtime { get; }
    public ScriptType SocketType { get; private set; } = null!;

    public static UdpModule Install(ScriptRuntime runtime, MonaObject mona)
    {
        var module = new UdpModule(runtime);
        GCHandle context = runtime.Vm.Keep(module);
        module.SocketType = UdpSocketObject.CreateType(runtime);
        mona.AddFactory("createUDPSocket", &Create, context);
        return module;
    }

    [UnmanagedCallersOnly]
    private static int Create(nint L) => HostFunction.Function<UdpModule>(L, &Create);

    private static int Create(nint L, UdpModule module)
    {
        bool allowBroadcast = LuaApi.lua_toboolean(L, 2) != 0;
        module.SocketType.Push(L, new UdpSocketObject(module, Owners.OfFactory(L), allowBroadcast));
        return 1;
    }
}
