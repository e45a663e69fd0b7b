using System.Threading.Tasks;
using MonaAot.Metrics;
using MonaAot.Workers;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Metrics;

/// <summary>Where each worker of [server] workers serves its metrics (docs/api.md, "[metrics]"):
/// [metrics] port + worker number - 1; 0 stays a free port for each.</summary>
public class MetricsPortTests
{
    [Test]
    [Arguments(9100, 1, 1, 9100)]
    [Arguments(9100, 1, 4, 9100)]
    [Arguments(9100, 2, 4, 9101)]
    [Arguments(9100, 4, 4, 9103)]
    [Arguments(0, 1, 1, 0)]
    [Arguments(0, 3, 4, 0)]
    [Arguments(65535, 2, 2, 65536)]
    public async Task PortFor_IsThePortPlusTheWorkerNumberMinusOne(int configured, int number, int count, int expected) =>
        await Assert.That(MetricsEndpoint.PortFor(configured, new WorkerIdentity(number, count))).IsEqualTo(expected);
}
