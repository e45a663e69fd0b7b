using System;
using System.IO;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MonaAot.Lua.Native;

/// <summary>
/// Where the Lua C API and our shim come from. The AOT binary links native/'s static archive
/// directly (DirectPInvoke for both names below), so no library is loaded at run time. A JIT run
/// (the tests) loads native/'s shared library instead, for KeraLua's "lua54" imports as well as
/// ours, so that KeraLua never falls back to the Lua build it ships. On Windows that library is
/// native/'s DLL (make windows), which runs on the lua54.dll KeraLua ships and forwards the whole
/// Lua API to it, so both names still reach one Lua.
/// </summary>
public static class NativeLibraries
{
    /// <summary>Our shim plus Lua: libmonaaot_native.a / libmonaaot_native.so (monaaot_native.dll on Windows).</summary>
    public const string Shim = "monaaot_native";

    /// <summary>The name KeraLua imports Lua under.</summary>
    public const string KeraLua = "lua54";

    private static readonly string SharedFileName =
        OperatingSystem.IsWindows() ? "monaaot_native.dll" : "libmonaaot_native.so";
    private static readonly object Gate = new();
    private static bool _installed;
    private static nint _handle;

    /// <summary>Routes both names to native/'s shared library in JIT runs. Idempotent.</summary>
    public static void Install()
    {
        // The AOT binary binds both names at link time (DirectPInvoke) and never asks a resolver;
        // setting one anyway builds the runtime's reflection view of two assemblies at start-up
        // (metadata and the type loader: idle memory, docs/performance.md "Memory at start").
        if (!RuntimeFeature.IsDynamicCodeSupported)
            return;
        lock (Gate)
        {
            if (_installed)
                return;
            _installed = true;
            NativeLibrary.SetDllImportResolver(typeof(global::KeraLua.Lua).Assembly, Resolve);
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
        }
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != Shim && name != KeraLua)
            return 0;
        if (_handle == 0)
        {
            string path = Path.Combine(AppContext.BaseDirectory, SharedFileName);
            _handle = NativeLibrary.Load(path);
        }
        return _handle;
    }
}
