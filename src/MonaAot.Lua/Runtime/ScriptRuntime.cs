using System;
using System.Collections.Generic;
using System.Net;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using MonaAot.Diagnostics;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Net;
using MonaAot.Reactor;

namespace MonaAot.Lua.Runtime;

/// <summary>
/// What the Lua-visible modules share, reached by host functions through their context upvalue:
/// the VM, the loop, the network context, the resolver, the hosts file, the logger and the object
/// ids. Which application a new object belongs to is not here: see <see cref="Owners"/>.
/// </summary>
public sealed unsafe class ScriptRuntime
{
    /// <param name="hosts">The hosts file that start, bind and send read names from without
    /// waiting; <see cref="HostsFile.Default"/> unless given (tests give their own).</param>
    public ScriptRuntime(LuaVm vm, EventLoop loop, NetContext net, Logger logger, IResolver? resolver = null, HostsFile? hosts = null)
    {
        Hosts = hosts ?? HostsFile.Default;
        Vm = vm;
        Loop = loop;
        Net = net;
        Logger = logger;
        Resolver = resolver ?? new SystemResolver();
        LuaStrings.Push(vm.L, "onReception");
        ReceptionName = LuaApi.luaL_ref(vm.L, LuaApi.LUA_REGISTRYINDEX);
        // Before each wait, outside every callback: the objects released during the turn pace
        // the collector (LuaVm.ReleasedObjectStepKb).
        loop.AddBeforeWait(() => vm.StepForReleased());
        vm.Warned = LogWarning;
    }

    /// <summary>Lua's warnings (<see cref="LuaVm.Warned"/>): an error in a __gc metamethod is
    /// a script error, logged at ERROR where its message says it was raised; warn() from a
    /// script (once on) at WARN. Lua gives no position for the latter and none may be asked
    /// of the state here (this may run inside an allocation).</summary>
    private void LogWarning(LuaWarning kind, string message)
    {
        if (kind == LuaWarning.ErrorInGc)
        {
            ScriptErrors++;
            ScriptError where = ScriptError.Parse(message, "?");
            Logger.Log(LogLevel.Error, where.File, where.Line, "error in __gc: " + where.Message);
        }
        else
            Logger.Log(LogLevel.Warn, "?", 0, message);
    }

    public LuaVm Vm { get; }

    /// <summary>The registry reference of the string "onReception", which the per-message shim
    /// calls (mona_reception, mona_datagram) look the handler up with: interned once rather than
    /// pushed from a C string per message (docs/performance.md, "Issue 19: CPU per message").</summary>
    public int ReceptionName { get; }
    public EventLoop Loop { get; }
    public NetContext Net { get; }
    public Logger Logger { get; }
    public IResolver Resolver { get; }

    public HostsFile Hosts { get; }
    public ObjectTable Objects { get; } = new();

    /// <summary>
    /// Resolves <paramref name="host"/> off the loop and posts the answer back to it:
    /// <paramref name="then"/> runs on the loop thread with the addresses (at least one), or with
    /// null and the message "cannot resolve 'name' (why)". What the answer still applies to (the
    /// same connection, a socket still open) is for <paramref name="then"/> to check: the script
    /// may have moved on meanwhile.
    /// </summary>
    public void ResolveThenPost(string host, Action<IPAddress[]?, string?> then)
    {
        Task<IPAddress[]> lookup;
        try
        {
            lookup = Resolver.ResolveAsync(host);
        }
        catch (Exception e)
        {
            lookup = Task.FromException<IPAddress[]>(e);
        }
        lookup.ContinueWith(task => Loop.Post(() =>
        {
            if (task.IsCompletedSuccessfully && task.Result.Length > 0)
                then(task.Result, null);
            else
            {
                ResolveErrors++;
                then(null, $"cannot resolve {AddressText.Quote(host)} ({task.Exception?.InnerException?.Message ?? "no address"})");
            }
        }), TaskScheduler.Default);
    }

    private readonly List<ScriptType> _types = [];

    /// <summary>Every Lua-visible object type installed in this runtime.</summary>
    public IReadOnlyList<ScriptType> Types => _types;

    internal void AddType(ScriptType type) => _types.Add(type);

    /// <summary>Lua timers armed now (mona:stats().timers): kept by the Timer module
    /// (src/MonaAot.Modules/TimerObject.cs), here because it is counted per Lua state.</summary>
    public int ArmedTimers { get; set; }

    /// <summary>Script errors logged (a handler, a timer, main.lua, onStart...): counted where
    /// they are logged, loop thread only (monaaot_errors_total{class="script"}, docs/api.md,
    /// "[metrics]"). The host's own error paths add theirs.</summary>
    public long ScriptErrors { get; set; }

    /// <summary>Name resolutions a script asked for that failed (monaaot_errors_total{class="dns"}).</summary>
    public long ResolveErrors { get; private set; }

    /// <summary>
    /// Pushes the handler <paramref name="name"/> (a NUL-terminated literal such as
    /// <c>"onReception\0"u8</c>) that the script stored on <paramref name="obj"/>, followed by
    /// the object itself, ready for arguments and <see cref="CallEvent"/>. Returns false, with
    /// the stack unchanged, when there is none.
    /// </summary>
    public bool PushEvent(ScriptObject obj, ReadOnlySpan<byte> name)
    {
        if (obj.SelfRef == LuaApi.LUA_NOREF)
            return false;
        fixed (byte* n = name)
            return Shim.mona_pushevent(Vm.L, obj.SelfRef, n) != 0;
    }

    /// <summary>Calls the handler pushed by <see cref="PushEvent"/> with self and
    /// <paramref name="nargs"/> more arguments. An error is logged; returns false then, with
    /// nothing left on the stack.</summary>
    public bool CallEvent(int nargs, int nresults)
    {
        bool ok = Shim.mona_pcall(Vm.L, 1 + nargs, nresults) == LuaApi.LUA_OK;
        if (!ok)
            LogScriptError();
        return ok;
    }

    /// <summary>
    /// The script line that called the running host function on thread <paramref name="L"/>:
    /// the first Lua function up the stack (a method called through pcall has a C function
    /// in between). Cheap enough for error paths, not for every message.
    /// </summary>
    public static ScriptPosition CallerPosition(nint L)
    {
        byte* source;
        int line;
        for (int level = 1; Shim.mona_where(L, level, &source, &line) != 0; level++)
        {
            if (line > 0)
                return new ScriptPosition(Marshal.PtrToStringUTF8((nint)source) ?? "?", line);
        }
        return ScriptPosition.Unknown;
    }

    /// <summary>Where the handler <paramref name="name"/> of <paramref name="obj"/> is defined:
    /// the position of a message about what a handler did, sent after it returned (the clamped
    /// onReception answer). Unknown when the handler is gone.</summary>
    public ScriptPosition HandlerPosition(ScriptObject obj, ReadOnlySpan<byte> name)
    {
        nint L = Vm.L;
        int top = LuaApi.lua_gettop(L);
        if (!PushEvent(obj, name))
            return ScriptPosition.Unknown;
        byte* source;
        int line;
        Shim.mona_definedat(L, -2, &source, &line); // handler self
        LuaApi.lua_settop(L, top);
        return new ScriptPosition(Marshal.PtrToStringUTF8((nint)source) ?? "?", line);
    }

    /// <summary>
    /// Logs a message a script caused at the script's position (docs/api.md, "Conventions": every
    /// such message names the script file and line, never a C# file). Host functions pass <see
    /// cref="CallerPosition"/>; messages that come after the script returned (a late name
    /// resolution, a handler's answer) pass the position of the call or handler they are about.
    /// </summary>
    public void LogAtScript(LogLevel level, string message, in ScriptPosition at)
    {
        if (Logger.IsEnabled(level))
            Logger.Log(level, at.File, at.Line, message);
    }

    /// <summary>Logs the error message on top of the stack (and pops it) at ERROR, with the
    /// script file and line it names.</summary>
    public void LogScriptError()
    {
        string message = LuaStrings.ToText(Vm.L, -1) ?? "(error object is not a string)";
        LuaApi.lua_pop(Vm.L, 1);
        ScriptErrors++;
        ScriptError where = ScriptError.Parse(message, "?");
        Logger.Log(LogLevel.Error, where.File, where.Line, where.Message);
    }
}

/// <summary>A script file (Lua's short source) and line; "?" and 0 when none is known.</summary>
public readonly record struct ScriptPosition(string File, int Line)
{
    public static readonly ScriptPosition Unknown = new("?", 0);
}
