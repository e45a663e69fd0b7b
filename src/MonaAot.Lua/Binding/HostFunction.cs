using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MonaAot.Lua.Native;

namespace MonaAot.Lua.Binding;

/// <summary>
/// Host functions are static <c>[UnmanagedCallersOnly]</c> methods pushed as C closures through the
/// shim's trampoline. They never raise a Lua error themselves: they return <see cref="Raise"/>
/// or <see cref="ArgError"/> and the trampoline raises once C# has returned. Every body catches
/// every exception and turns it into <see cref="Raise"/>.
///
/// Upvalue 1 of the closure is the function pointer (the trampoline's); upvalue 2, when pushed
/// with a context, is a GCHandle to the C# object the function serves; further upvalues follow.
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

    /// <summary>The C# object behind upvalue 2 of the running host function.</summary>
    /// <remarks>Unchecked: only <see cref="Push"/> sets that upvalue, with the module the function
    /// was registered for. A checked cast would cost a generic-dictionary lookup on every call
    /// (shared generic code), which shows in the per-message profile.</remarks>
    public static T Context<T>(nint L) where T : class
    {
        nint handle = (nint)LuaApi.lua_touserdata(L, ContextUpvalue);
        return Unsafe.As<T>(GCHandle.FromIntPtr(handle).Target!);
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

    /// <summary>What every host function returns from its catch-all.</summary>
    public static int Fail(nint L, Exception e) => Raise(L, $"internal error: {e.Message}");
}
