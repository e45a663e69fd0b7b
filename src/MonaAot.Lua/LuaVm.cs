using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using KeraLua;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;

namespace MonaAot.Lua;

/// <summary>
/// One Lua state with the standard libraries open, owned by the loop thread. KeraLua is the API
/// surface for setting things up; calls that run script code go through the shim's protected
/// call with a traceback, so no Lua error ever unwinds through C#.
/// </summary>
public sealed unsafe class LuaVm : IDisposable
{
    private readonly List<GCHandle> _kept = new(); // freed at disposal
    private void* _heap; // mona_alloc.h: the state's allocator
    // Interrupt comes from a signal thread: it must not reach a closed state.
    private readonly object _interruptGate = new();
    private bool _closed;

    /// <summary>
    /// The collector's pause: a new cycle starts when the heap reaches this percentage of what
    /// survived the last one. A server's garbage is mostly short-lived message strings (up to
    /// 120 KiB each) over a small live heap, so Lua's default of 200 runs a full cycle every few
    /// messages; 400 halves that work for at most twice the memory (measured with
    /// ./build.sh bench, streaming: about 10% less server CPU per message). Scripts may still
    /// call collectgarbage() to choose otherwise.
    /// </summary>
    public const int GcPause = 400;

    /// <summary>
    /// The collector work, in KiB of allocation, that each object released to the collector
    /// (a closed connection's userdata, <see cref="NoteReleased"/>) adds. Such an object has a
    /// __gc, so the cycle that finds it dead keeps it, its fields table and its handlers for one
    /// more cycle; with <see cref="GcPause"/> at 400 the next cycle then waits for four times
    /// that, and under sustained connection churn the heap grew cycle after cycle (tens of MB
    /// for a 64 B echo). Counting each release as this much allocation brings the next cycle
    /// nearer in proportion to the garbage it leaves, and costs nothing where no connection
    /// closes (streaming, ping-pong): docs/architecture.md, "Memory upkeep".
    /// </summary>
    public const int ReleasedObjectStepKb = 8;

    private int _released; // objects released since the last StepForReleased

    public LuaVm()
    {
        NativeLibraries.Install();
        State = new KeraLua.Lua(openLibs: true) { Encoding = Encoding.UTF8 };
        _heap = Shim.mona_setalloc(L);
        _warn = Shim.mona_setwarn(L, &OnWarning, GCHandle.ToIntPtr(Keep(this)));
        State.DoString($"collectgarbage('incremental', {GcPause})");
    }

    private void* _warn; // mona_warn.h: the state's warning function, freed after lua_close

    /// <summary>
    /// Receives Lua's warnings (native/shim/mona_warn.h): an error raised in a __gc metamethod
    /// (<see cref="LuaWarning.ErrorInGc"/>, always; its text the error's message, "file:line:
    /// message") and what scripts pass to warn() once they said warn("@on")
    /// (<see cref="LuaWarning.Script"/>). It may be called inside any allocation of the state
    /// (a collection step runs finalizers), a host function's included, and during
    /// <see cref="Dispose"/>: it must not call into the state. What it throws is dropped.
    /// </summary>
    public Action<LuaWarning, string>? Warned { get; set; }

    [UnmanagedCallersOnly]
    private static void OnWarning(nint context, byte* text, nuint length, int kind)
    {
        // No exception may leave: this frame sits between Lua frames, in the middle of an
        // allocation.
        try
        {
            if (GCHandle.FromIntPtr(context).Target is not LuaVm { Warned: { } warned })
                return;
            string message = Encoding.UTF8.GetString(text, (int)Math.Min(length, (nuint)int.MaxValue));
            if (kind == Shim.MONA_WARN_GC)
            {
                // "error in __gc (" message ")": Lua's pieces, assembled (cut ones end in "...").
                const string Prefix = "error in __gc (";
                if (message.StartsWith(Prefix, StringComparison.Ordinal))
                    message = message[Prefix.Length..(message.EndsWith(')') ? ^1 : ^0)];
                warned(LuaWarning.ErrorInGc, message);
            }
            else
                warned(LuaWarning.Script, message);
        }
        catch (Exception)
        {
            // A warning that cannot be reported is lost; the script carries on.
        }
    }

    /// <summary>The bytes the Lua heap holds (what collectgarbage("count") reports, in bytes).</summary>
    public long MemoryInUse => _heap == null ? 0 : (long)Shim.mona_heapused(_heap);

    /// <summary>An object's userdata was released to the collector (it may be garbage now):
    /// counted for <see cref="StepForReleased"/>. Loop thread.</summary>
    public void NoteReleased() => _released++;

    /// <summary>The collector's step for the objects released since the last call
    /// (<see cref="ReleasedObjectStepKb"/> each); nothing when none was. Runs finalizers, so only
    /// where no C# code is half-way through objects: the loop calls it before it waits.
    /// Returns true when a collection cycle ended in it.</summary>
    public bool StepForReleased()
    {
        if (_released == 0 || _closed)
            return false;
        int kb = (int)Math.Min((long)_released * ReleasedObjectStepKb, 1 << 20);
        _released = 0;
        return Shim.mona_gcstep(L, kb) != 0;
    }

    /// <summary>
    /// Gives back what an idle state holds beyond its live objects: a full collection, then the
    /// allocator's free lists to malloc and malloc's free pages to the system (mona_alloc.h
    /// mona_heap_trim). Returns the bytes Lua held before and after the collection. Loop thread,
    /// outside any callback.
    /// </summary>
    public (long Before, long After) Trim()
    {
        if (_closed)
            return (0, 0);
        long before = MemoryInUse;
        Shim.mona_gccollect(L);
        long after = MemoryInUse;
        if (_heap != null)
            Shim.mona_heap_trim(_heap);
        return (before, after);
    }

    /// <summary>[lua] memoryLimit: the bytes the Lua heap may hold while scripts run (0: no
    /// limit); past it the script gets Lua's "not enough memory" error.</summary>
    public void SetMemoryLimit(long bytes)
    {
        if (_heap != null)
            Shim.mona_setlimit(_heap, (nuint)Math.Max(0, bytes));
    }

    /// <summary>[lua] cmodules = false: from now on a require that would load a Lua C module,
    /// and package.loadlib, raise "C modules are disabled ([lua] cmodules = false): NAME"
    /// (mona_cmodules.h). Call before anything changes package.searchers.</summary>
    public void RefuseCModules()
    {
        if (Shim.mona_cmodules_refuse(L) != LuaApi.LUA_OK)
            throw new InvalidOperationException(PopError());
    }

    /// <summary>
    /// Stops the script call running now, if any, with "&lt;where&gt;: interrupted by SIGTERM"
    /// (or SIGINT), raised in the script and again at every instruction of that call, so a
    /// pcall loop cannot keep it going; the call's error is logged as any other. Safe from any
    /// thread (a signal handler's): it calls no Lua function but lua_sethook (mona_guard.h).
    /// Returns false when no script call was running.
    /// </summary>
    public bool Interrupt(InterruptSignal signal)
    {
        lock (_interruptGate)
            return !_closed && Shim.mona_guard_interrupt(L, (int)signal) != 0;
    }

    /// <summary>KeraLua's view of the state.</summary>
    public KeraLua.Lua State { get; }

    /// <summary>The raw <c>lua_State*</c>.</summary>
    public nint L => State.Handle;

    /// <summary>
    /// Keeps <paramref name="target"/> alive for the VM's lifetime and returns a handle to it
    /// that Lua can hold (host functions' upvalue 2, read back with GCHandle.FromIntPtr). The
    /// handle is a normal one: it roots the object but does not pin it (the GC may still move
    /// it; Lua only ever holds the handle, never the object's address). Freed at disposal.
    /// </summary>
    public GCHandle Keep(object target)
    {
        GCHandle handle = GCHandle.Alloc(target);
        _kept.Add(handle);
        return handle;
    }

    /// <summary>Sets global <paramref name="name"/> to a host function over <paramref name="context"/>.</summary>
    public void SetGlobalFunction(string name, delegate* unmanaged<nint, int> fn, GCHandle context)
    {
        HostFunction.Push(L, fn, context);
        State.SetGlobal(name);
    }

    /// <summary>
    /// Calls the function below the <paramref name="nargs"/> arguments on top of the stack, with a
    /// traceback on error. On failure nothing is left on the stack and <paramref name="error"/>
    /// holds the message and traceback.
    /// </summary>
    public bool Call(int nargs, int nresults, out string error)
    {
        if (Shim.mona_pcall(L, nargs, nresults) == LuaApi.LUA_OK)
        {
            error = "";
            return true;
        }
        error = PopError();
        return false;
    }

    /// <summary>Pushes t[name] for the table at <paramref name="index"/> (metamethods unless
    /// <paramref name="raw"/>); on error pushes nothing and returns false.</summary>
    public bool GetField(int index, string name, bool raw, out string error)
    {
        int length = Encoding.UTF8.GetByteCount(name);
        Span<byte> key = stackalloc byte[length + 1];
        Encoding.UTF8.GetBytes(name, key);
        key[length] = 0;
        int status;
        fixed (byte* k = key)
            status = Shim.mona_pgetfield(L, index, k, raw ? 1 : 0);
        if (status == LuaApi.LUA_OK)
        {
            error = "";
            return true;
        }
        error = PopError();
        return false;
    }

    /// <summary>Compiles a text chunk (never bytecode, which can crash the VM) and pushes it.</summary>
    public bool Load(byte[] code, string chunkName, out string error)
    {
        if (State.LoadBuffer(code, "@" + chunkName, "t") == LuaStatus.OK)
        {
            error = "";
            return true;
        }
        error = PopError();
        return false;
    }

    private string PopError()
    {
        string message = LuaStrings.ToText(L, -1) ?? $"(error object is a {LuaStrings.TypeName(L, -1)} value)";
        LuaApi.lua_pop(L, 1);
        return message;
    }

    public void Dispose()
    {
        lock (_interruptGate)
            _closed = true;
        State.Dispose();
        Shim.mona_freeheap(_heap); // after lua_close, which returned every block through it
        _heap = null;
        Shim.mona_freewarn(_warn); // after lua_close, whose last finalizers may warn
        _warn = null;
        foreach (GCHandle handle in _kept)
            handle.Free();
        _kept.Clear();
    }
}

/// <summary>What a warning of <see cref="LuaVm.Warned"/> is.</summary>
public enum LuaWarning
{
    /// <summary>warn() from a script, while warnings are on (warn("@on")).</summary>
    Script,

    /// <summary>An error raised in a __gc metamethod, which Lua caught.</summary>
    ErrorInGc,
}

/// <summary>The signals <see cref="LuaVm.Interrupt"/> names in its message (mona_guard.h MONA_SIG*).</summary>
public enum InterruptSignal
{
    Sigint = Shim.MONA_SIGINT,
    Sigterm = Shim.MONA_SIGTERM,
}
