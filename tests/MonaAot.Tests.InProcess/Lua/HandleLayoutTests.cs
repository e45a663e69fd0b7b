using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using MonaAot.Lua.Native;
using MonaAot.Net;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Lua;

/// <summary>The userdata block C and C# both write (mona_handle, ScriptType.Handle: id,
/// generation, type, then the connection's <see cref="DirectWriteGate"/>) has one layout on
/// both sides.</summary>
public class HandleLayoutTests
{
    [Test]
    public async Task Handle_MatchesTheCCompiler()
    {
        NativeLibraries.Install();

        await Assert.That(3 * sizeof(int) + Unsafe.SizeOf<DirectWriteGate>()).IsEqualTo(Shim.mona_sizeof_handle());
        await Assert.That(3 * sizeof(int) + (int)Marshal.OffsetOf<DirectWriteGate>(nameof(DirectWriteGate.Sends))).IsEqualTo(Shim.mona_offsetof_handle_sends());
    }
}
