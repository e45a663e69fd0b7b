using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using MonaAot.Interop;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.Interop;

/// <summary>LayoutCheck's comparison over made-up answers: it names every difference (the
/// check against the real C compiler is NativeLayoutsTests, in-process).</summary>
public class LayoutCheckTests
{
    [Test]
    public async Task Compare_AgreeingFacts_FindsNothing()
    {
        List<LayoutFact> facts = [new("epoll_event", 12), new("epoll_event.data", 4)];

        await Assert.That(LayoutCheck.Compare(facts, [.. facts])).IsEmpty();
    }

    [Test]
    public async Task Compare_ArmKernelAnswerAgainstPackedDeclaration_NamesTheField()
    {
        // What an x86-64 declaration of epoll_event meets on arm64: 16 bytes, data at 8.
        List<LayoutFact> declared = [new("epoll_event", 12), new("epoll_event.data", 4), new("rlimit", 16)];
        List<LayoutFact> compiler = [new("epoll_event", 16), new("epoll_event.data", 8), new("rlimit", 16)];

        List<string> mismatches = LayoutCheck.Compare(declared, compiler);

        await Assert.That(mismatches).IsEquivalentTo(new[]
        {
            "epoll_event is 16 in C and 12 in C#",
            "epoll_event.data is 8 in C and 4 in C#",
        });
    }

    [Test]
    public async Task Compare_NameOnOneSideOnly_IsAMismatch()
    {
        List<string> mismatches = LayoutCheck.Compare([new("msghdr", 56)], [new("mmsghdr", 64)]);

        await Assert.That(mismatches).IsEquivalentTo(new[]
        {
            "mmsghdr is 64 in C and not declared in C#",
            "msghdr is 56 in C# and unknown to C",
        });
    }

    [Test]
    [RunOn(OS.Linux)]
    public async Task KernelFacts_DeclareEpollEventAsThisArchitecturesKernel()
    {
        var facts = new List<LayoutFact>();
        LayoutCheck.AddKernelFacts(facts);

        // The test process is x64: the packed layout (the arm64 one is checked under qemu).
        await Assert.That(facts.Single(f => f.Name == "epoll_event").Value).IsEqualTo(12);
        await Assert.That(facts.Single(f => f.Name == "epoll_event.data").Value).IsEqualTo(4);
        await Assert.That(facts.Select(f => f.Name).Distinct().Count()).IsEqualTo(facts.Count);
    }
}
