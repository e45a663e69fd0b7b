using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MonaAot.Lua.Native;
using MonaAot.Lua.Runtime;

namespace MonaAot.Lua.Binding;

/// <summary>
/// Host functions are static <c>[UnmanagedCallersOnly]</c> methods pushed as C closures through the
/// shim's trampoline. They never raise a Lua error themselves: they return <see cref="Raise"/>
/// or <see cref="ArgError"/> and the trampoline raises once C# has returned.
///
/// Each <c>[UnmanagedCallersOnly]</c> entry point is one line that hands its body to a prologue:
/// <see cref="Method{T}"/> for a method or metamethod of a Lua-visible type (the object at
/// argument 1, checked), <see cref="Function{TContext}"/> for a function over its context, <see
/// cref="Function(nint, delegate*{nint, int})"/> for one without. The prologue is the one place
/// that catches every exception and turns it into <see cref="Raise"/>. The body is a static
/// method reached through a function pointer: no delegate, no closure, no allocation per call.
///
/// Upvalue 1 of the closure is the function pointer (the trampoline's); upvalue 2, when pushed
/// with a context, is a GCHandle to the C# object the function serves (for a type's functions,
/// its <see cref="ScriptType"/>); further upvalues follow.
/// </summary>
public static unsafe class HostFunction
{
    /// <summary>Index of the first upvalue a host function may use for its own values.</summary>
    public static readonly int ContextUpvalue = LuaApi.lua_upvalueindex(2);

    /// <summary>Pushes a closure over <paramref name="fn"/> that takes the <paramref name="upvalues"/>
    /// values on top of the stack as upvalues 2 onwards.</summary>
    public static void Push(nint L, delegate* unmanaged<nint, int> fn, int upvalues = 0) =>
        Shim.mona_pushhostfunction(L, fn, upvalues);

    /// <summary>Pushes a closure over <paramref name="fn"/> whose upvalue 2 is <paramref name="context"/>.</summary>
    public static void Push(nint L, delegate* unmanaged<nint, int> fn, GCHandle context)
    {
        LuaApi.lua_pushlightuserdata(L, (void*)GCHandle.ToIntPtr(context));
        Shim.mona_pushhostfunction(L, fn, 1);
    }

    /// <summary>Asks the trampoline to raise <paramref name="message"/> as a Lua error.</summary>
    public static int Raise(nint L, string message)
    {
        LuaStrings.Push(L, message);
        return Shim.MONA_RAISE;
    }

    /// <summary>Asks the trampoline to raise "bad argument #arg to 'f' (detail)"; Lua names the
    /// function and shifts the number for a method call, as luaL_argerror does.</summary>
    public static int ArgError(nint L, int arg, string detail)
    {
        LuaStrings.Push(L, detail);
        return Shim.MONA_RAISE - arg;
    }

    /// <summary>The "X expected, got Y" detail of a type error.</summary>
    public static int TypeError(nint L, int arg, string expected) =>
        ArgError(L, arg, $"{expected} expected, got {LuaStrings.TypeName(L, arg)}");

    /// <summary>The seed's rule for a method's result: nothing on success, else the message
    /// (docs/api.md, "Conventions": one rule for return values). Returns the host function's result
    /// count.</summary>
    public static int MessageOrNothing(nint L, string? failure)
    {
        if (failure is null)
            return 0;
        LuaStrings.Push(L, failure);
        return 1;
    }

    /// <summary>The prologue of a method or metamethod of a Lua-visible type: the object at
    /// argument 1 must be of the type whose functions carry this closure (upvalue 2, see <see
    /// cref="ScriptType"/>), else "bad argument #1 ... (Type expected, got ...)"; then
    /// <paramref name="body"/> runs with it.</summary>
    public static int Method<T>(nint L, delegate*<nint, T, int> body) where T : ScriptObject
    {
        try
        {
            // Non-generic check and an unchecked cast: in shared generic code a checked cast or a
            // generic callee would cost a dictionary lookup per call (ScriptType.Push admits one
            // class per type).
            if (!Unsafe.As<ScriptType>(ContextObject(L)).Check(L, 1, out ScriptObject self, out int error))
                return error;
            Debug.Assert(self is T);
            return body(L, Unsafe.As<T>(self));
        }
        catch (Exception e)
        {
            return Fail(L, e);
        }
    }

    /// <summary>The prologue of a host function over its context (upvalue 2).</summary>
    public static int Function<TContext>(nint L, delegate*<nint, TContext, int> body) where TContext : class
    {
        try
        {
            return body(L, Unsafe.As<TContext>(ContextObject(L)));
        }
        catch (Exception e)
        {
            return Fail(L, e);
        }
    }

    /// <summary>The prologue of a host function that needs no context.</summary>
    public static int Function(nint L, delegate*<nint, int> body)
    {
        try
        {
            return body(L);
        }
        catch (Exception e)
        {
            return Fail(L, e);
        }
    }

    /// <summary>The C# object behind upvalue 2 of the running host function.</summary>
    /// <remarks>Cast unchecked by the prologues: only <see cref="Push"/> sets that upvalue, with
    /// the object the function was registered for. A checked cast would cost a generic-dictionary
    /// lookup on every call (shared generic code), which shows in the per-message profile.</remarks>
    private static object ContextObject(nint L) =>
        GCHandle.FromIntPtr((nint)LuaApi.lua_touserdata(L, ContextUpvalue)).Target!;

    /// <summary>What a prologue returns for an exception its body let out.</summary>
    private static int Fail(nint L, Exception e) => Raise(L, $"internal error: {e.Message}");
}
