using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using MonaAot.Interop;
using MonaAot.Lua.Runtime;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Lua;

/// <summary>The userdata block C and C# both write (mona_handle, ScriptType.Handle: id,
/// generation, type, then the connection's DirectWriteGate) has one layout on both sides,
/// through the check the server runs at start (NativeLayouts).</summary>
public class HandleLayoutTests
{
    [Test]
    public async Task Handle_MatchesTheCCompiler()
    {
        List<LayoutFact> compiler = NativeLayouts.Compiler();
        List<LayoutFact> declared = NativeLayouts.Declared();

        foreach (string name in new[] { "mona_handle", "mona_handle.fd", "mona_handle.sends" })
            await Assert.That(declared.Single(f => f.Name == name).Value).IsEqualTo(compiler.Single(f => f.Name == name).Value);
    }
}
