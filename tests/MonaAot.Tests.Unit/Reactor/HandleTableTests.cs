using System.Threading.Tasks;
using MonaAot.Reactor;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Reactor;

public class HandleTableTests
{
    private sealed class Handler : IIoHandler
    {
        public void OnIo(in IoEvent ev)
        {
        }
    }

    [Test]
    public async Task Find_RemovedToken_IsStaleEvenWhenSlotReused()
    {
        var table = new HandleTable();
        var first = new Handler();
        var second = new Handler();

        ulong old = table.Add(first);
        table.Remove(old);
        ulong reused = table.Add(second);

        await Assert.That((uint)reused).IsEqualTo((uint)old);
        await Assert.That(table.Find(old)).IsNull();
        await Assert.That(table.Find(reused)).IsSameReferenceAs(second);
        await Assert.That(table.Count).IsEqualTo(1);
    }

    [Test]
    public async Task Add_NeverIssuesTokenZero()
    {
        var table = new HandleTable();

        await Assert.That(table.Add(new Handler())).IsNotEqualTo(0UL);
        await Assert.That(table.Find(0)).IsNull();
    }
}
