using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using MonaAot.Interop;
using MonaAot.Lua.Native;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.Reactor;

// Linux only: epoll.
[RunOn(OS.Linux)]
public class EpollLayoutTests
{
    [Test]
    public async Task EpollEvent_MatchesTheCCompiler()
    {
        NativeLibraries.Install();

        await Assert.That(Unsafe.SizeOf<Libc.epoll_event>()).IsEqualTo(Shim.mona_sizeof_epoll_event());
        await Assert.That((int)Marshal.OffsetOf<Libc.epoll_event>(nameof(Libc.epoll_event.data))).IsEqualTo(Shim.mona_offsetof_epoll_event_data());
    }
}
