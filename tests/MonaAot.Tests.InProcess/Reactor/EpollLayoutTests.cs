using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using MonaAot.Interop;
using MonaAot.Lua.Runtime;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.Reactor;

/// <summary>epoll_event as C# declares it against the C compiler's answer, through the check the
/// server runs at start (NativeLayouts; the whole set is NativeLayoutsTests).</summary>
// Linux only: epoll.
[RunOn(OS.Linux)]
public class EpollLayoutTests
{
    [Test]
    public async Task EpollEvent_MatchesTheCCompiler()
    {
        List<LayoutFact> compiler = NativeLayouts.Compiler();
        List<LayoutFact> declared = NativeLayouts.Declared();

        foreach (string name in new[] { "epoll_event", "epoll_event.data" })
            await Assert.That(declared.Single(f => f.Name == name).Value).IsEqualTo(compiler.Single(f => f.Name == name).Value);
    }
}
