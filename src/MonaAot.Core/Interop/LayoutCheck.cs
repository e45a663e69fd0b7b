using System.Collections.Generic;

namespace MonaAot.Interop;

/// <summary>One fact about a layout shared with the kernel or with C: a struct's size ("msghdr"),
/// a field's offset ("msghdr.msg_iov") or a constant's value ("LUA_REGISTRYINDEX").</summary>
public readonly record struct LayoutFact(string Name, long Value);

/// <summary>
/// Compares what C# declares about the structs it shares with the kernel or with C against the
/// C compiler's answer for the same target (native/shim/mona_probe.c). A declaration that is
/// right on one architecture can be wrong on another (epoll_event is packed on x86-64 only), and
/// a wrong one corrupts memory silently, so the server runs this at every start and refuses to
/// start on a difference (docs/architecture.md, "Architectures"). This half holds the kernel's
/// structs of this platform (LayoutCheck.Unix.cs, none on Windows) and the comparison; the Lua
/// binding adds its own (the shim's handle block, LUA_REGISTRYINDEX) and asks the shim.
/// </summary>
public static partial class LayoutCheck
{
    /// <summary>Adds C#'s facts about the kernel structs this platform's interop declares.</summary>
    public static void AddKernelFacts(List<LayoutFact> facts) => AddPlatformFacts(facts);

    static partial void AddPlatformFacts(List<LayoutFact> facts);

    /// <summary>One line per difference between <paramref name="declared"/> (C#) and
    /// <paramref name="compiler"/> (C), naming the struct or field: a different value, or a
    /// name one side has and the other lacks. Empty when they agree.</summary>
    public static List<string> Compare(IReadOnlyList<LayoutFact> declared, IReadOnlyList<LayoutFact> compiler)
    {
        var mismatches = new List<string>();
        var csharp = new Dictionary<string, long>(declared.Count);
        foreach (LayoutFact fact in declared)
            csharp[fact.Name] = fact.Value;
        var seen = new HashSet<string>();
        foreach (LayoutFact fact in compiler)
        {
            seen.Add(fact.Name);
            if (!csharp.TryGetValue(fact.Name, out long value))
                mismatches.Add($"{fact.Name} is {fact.Value} in C and not declared in C#");
            else if (value != fact.Value)
                mismatches.Add($"{fact.Name} is {fact.Value} in C and {value} in C#");
        }
        foreach (LayoutFact fact in declared)
        {
            if (!seen.Contains(fact.Name))
                mismatches.Add($"{fact.Name} is {fact.Value} in C# and unknown to C");
        }
        return mismatches;
    }
}
