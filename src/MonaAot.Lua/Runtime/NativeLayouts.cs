using System.Collections.Generic;
using System.Runtime.InteropServices;
using MonaAot.Interop;
using MonaAot.Lua.Native;

namespace MonaAot.Lua.Runtime;

/// <summary>
/// The layout check the server runs at every start (docs/architecture.md, "Architectures"):
/// every fact C# declares about memory it shares with the kernel or with C (the kernel structs
/// of <see cref="LayoutCheck"/>, the userdata block of <see cref="ScriptType"/>,
/// LUA_REGISTRYINDEX) against the C compiler's answers for the target the shim was built for
/// (mona_layouts). It lives in the binding because the binding is the first layer that sees
/// both the interop's structs and the shim's.
/// </summary>
public static unsafe class NativeLayouts
{
    /// <summary>What C# declares, under mona_probe.c's names.</summary>
    public static List<LayoutFact> Declared()
    {
        var facts = new List<LayoutFact>();
        LayoutCheck.AddKernelFacts(facts);
        ScriptType.AddHandleFacts(facts);
        facts.Add(new LayoutFact("LUA_REGISTRYINDEX", LuaApi.LUA_REGISTRYINDEX));
        return facts;
    }

    /// <summary>What the C compiler answered when the shim was built.</summary>
    public static List<LayoutFact> Compiler()
    {
        NativeLibraries.Install();
        Shim.mona_layout* table;
        int count = Shim.mona_layouts(&table);
        var facts = new List<LayoutFact>(count);
        for (int i = 0; i < count; i++)
            facts.Add(new LayoutFact(Marshal.PtrToStringUTF8((nint)table[i].name) ?? "", table[i].value));
        return facts;
    }

    /// <summary>The differences (one line each, naming the struct or field; empty when all
    /// agree) and, in <paramref name="checkedCount"/>, how many facts C answered.</summary>
    public static List<string> Check(out int checkedCount)
    {
        List<LayoutFact> compiler = Compiler();
        checkedCount = compiler.Count;
        return LayoutCheck.Compare(Declared(), compiler);
    }
}
