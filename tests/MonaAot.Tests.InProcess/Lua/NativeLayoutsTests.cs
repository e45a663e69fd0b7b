using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using MonaAot.Interop;
using MonaAot.Lua.Runtime;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.Lua;

/// <summary>The layout check of every start, against the shim this process loaded: nothing
/// differs, and it covers every struct C# shares with the kernel or with C.</summary>
public class NativeLayoutsTests
{
    [Test]
    public async Task Check_FindsNoDifference()
    {
        List<string> mismatches = NativeLayouts.Check(out int count);

        await Assert.That(mismatches).IsEmpty();
        await Assert.That(count).IsEqualTo(NativeLayouts.Declared().Count);
    }

    [Test]
    [RunOn(OS.Linux)]
    public async Task Compiler_AnswersForEveryKernelStructAndTheRegistry()
    {
        HashSet<string> names = NativeLayouts.Compiler().Select(f => f.Name).ToHashSet();

        foreach (string name in new[] { "epoll_event", "iovec", "msghdr", "mmsghdr", "sockaddr_in", "sockaddr_in6",
                     "sockaddr_un", "rlimit", "linger", "ip_mreqn", "ipv6_mreq", "mona_handle", "LUA_REGISTRYINDEX" })
            await Assert.That(names).Contains(name);
    }

    [Test]
    public async Task Check_OverAWrongAnswer_NamesIt()
    {
        // The shim's answers with LUA_REGISTRYINDEX changed, as a Lua built with another
        // LUAI_MAXSTACK would give.
        List<LayoutFact> compiler = NativeLayouts.Compiler()
            .Select(f => f.Name == "LUA_REGISTRYINDEX" ? f with { Value = f.Value - 1 } : f).ToList();

        List<string> mismatches = LayoutCheck.Compare(NativeLayouts.Declared(), compiler);

        await Assert.That(mismatches).IsEquivalentTo(new[] { "LUA_REGISTRYINDEX is -1001001 in C and -1001000 in C#" });
    }
}
