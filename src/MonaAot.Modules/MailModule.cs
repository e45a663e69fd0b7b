using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using MimeKit;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Lua.Runtime;
using MonaAot.Mail;

namespace MonaAot.Modules;

/// <summary>mona:sendMail(sender, subject, content, recipient, ...) (docs/api.md, "Mail"): installs
/// the Mail type and the function on the mona table (upvalue 3: the owner of the mails it makes,
/// <see cref="Owners"/>). Mails go to the <see
/// cref="MailQueue"/>, which sends them off the loop thread.</summary>
public sealed unsafe class MailModule
{
    private MailModule(ScriptRuntime runtime, MailQueue queue)
    {
        Runtime = runtime;
        Queue = queue;
    }

    public ScriptRuntime Runtime { get; }
    public MailQueue Queue { get; }
    public ScriptType MailType { get; private set; } = null!;

    public static MailModule Install(ScriptRuntime runtime, MonaObject mona, MailQueue queue)
    {
        var module = new MailModule(runtime, queue);
        GCHandle context = runtime.Vm.Keep(module);
        module.MailType = MailObject.CreateType(runtime);
        mona.AddFactory("sendMail", &SendMail, context);
        return module;
    }

    // Arguments: 1 the mona table (a method call), 2 sender, 3 subject, 4 content, 5... recipients.
    [UnmanagedCallersOnly]
    private static int SendMail(nint L) => HostFunction.Function<MailModule>(L, &SendMail);

    private static int SendMail(nint L, MailModule module)
    {
        if (!Args.Table(L, 1, out int error)
            || !Address(L, 2, out MailboxAddress sender, out error)
            || !Args.Text(L, 3, out string subject, out error)
            || !Args.Text(L, 4, out string content, out error))
            return error;
        int last = Math.Max(LuaApi.lua_gettop(L), 5); // at least one recipient
        var recipients = new List<MailboxAddress>(last - 4);
        for (int arg = 5; arg <= last; arg++)
        {
            if (!Address(L, arg, out MailboxAddress recipient, out error))
                return error;
            recipients.Add(recipient);
        }
        MimeMessage message = MailComposer.Compose(sender, subject, content, recipients);
        var mail = new MailObject(module, Owners.OfFactory(L), recipients.Count == 1 ? recipients[0].Address : $"{recipients[0].Address} and {recipients.Count - 1} more");
        module.MailType.Push(L, mail);
        mail.Start(L, message);
        return 1;
    }

    private static bool Address(nint L, int arg, out MailboxAddress address, out int error)
    {
        address = null!;
        if (!Args.Text(L, arg, out string text, out error))
            return false;
        if (MailComposer.TryParseAddress(text, out address, out string problem))
            return true;
        error = HostFunction.ArgError(L, arg, problem);
        return false;
    }
}
