using System;
using System.Runtime.InteropServices;
using MimeKit;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Lua.Runtime;

namespace MonaAot.Modules;

/// <summary>
/// The object mona:sendMail returns (docs/api.md, "Mail"). Its one event, onSent(error), fires once
/// on the loop thread, always on a later turn than the call; until then a registry reference keeps
/// it alive, whatever the script does with it.
///
/// A mail once handed over is not withdrawn when its application reloads or stops: it is still
/// sent and onSent still runs (the handler of the script that sent it). Only the server's
/// shutdown ends it early, through <see cref="Mail.MailQueue.Abandon"/>, and onSent says so.
/// </summary>
public sealed unsafe class MailObject : ScriptObject
{
    private readonly MailModule _module;
    private readonly string _recipients;
    private string _state = "pending";

    public MailObject(MailModule module, IResourceOwner? owner, string recipients) : base(module.Runtime, owner)
    {
        _module = module;
        _recipients = recipients;
    }

    internal static ScriptType CreateType(ScriptRuntime runtime) =>
        new(runtime, "Mail", [], [], ["onSent"], &Index, &ToText);

    /// <summary>Queues the message; the userdata is at the top of the stack.</summary>
    public void Start(nint L, MimeMessage message)
    {
        Retain(L, -1);
        _module.Queue.Send(message, OnSent);
    }

    private void OnSent(string? error)
    {
        _state = error is null ? "sent" : "failed";
        nint L = Runtime.Vm.L;
        int top = LuaApi.lua_gettop(L);
        if (Runtime.PushEvent(this, "onSent\0"u8))
        {
            if (error is null)
                LuaApi.lua_pushnil(L);
            else
                LuaStrings.Push(L, error);
            Runtime.CallEvent(1, 0);
        }
        LuaApi.lua_settop(L, top);
        Release();
    }

    /// <summary>Its application stops or reloads: the mail goes on (see the class comment).</summary>
    public override void Close()
    {
    }

    public override void Collect()
    {
    }

    // Answers the properties listed in CreateType (ScriptType.Properties): a property added or
    // removed here must be added or removed there and in docs/api.md (Docs/ApiReferenceTests).
    [UnmanagedCallersOnly]
    private static int Index(nint L) => HostFunction.Method<MailObject>(L, &Index);

    private static int Index(nint L, MailObject self)
    {
        return ScriptType.IndexFields(L);
    }

    [UnmanagedCallersOnly]
    private static int ToText(nint L) => HostFunction.Method<MailObject>(L, &ToText);

    private static int ToText(nint L, MailObject self)
    {
        LuaStrings.Push(L, $"Mail to {self._recipients} ({self._state})");
        return 1;
    }
}
