using System.Text;
using System.Threading.Tasks;
using MonaAot.Metrics;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Metrics;

/// <summary>The request heads the metrics endpoint answers, refuses or waits for.</summary>
public class MetricsRequestTests
{
    private static MetricsRequestKind Parse(string text) => MetricsRequest.Parse(Encoding.ASCII.GetBytes(text));

    [Test]
    [Arguments("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", MetricsRequestKind.Metrics)]
    [Arguments("GET /metrics?name[]=x HTTP/1.0\r\n\r\n", MetricsRequestKind.Metrics)]
    [Arguments("GET / HTTP/1.1\r\n\r\n", MetricsRequestKind.NotFound)]
    [Arguments("GET /metrics/ HTTP/1.1\r\n\r\n", MetricsRequestKind.NotFound)]
    [Arguments("PUT /metrics HTTP/1.1\r\n\r\n", MetricsRequestKind.MethodNotAllowed)]
    [Arguments("GET /metrics HTTP/1.1\r\nHost: a\r\n", MetricsRequestKind.Incomplete)]
    [Arguments("", MetricsRequestKind.Incomplete)]
    [Arguments("get /metrics HTTP/1.1\r\n\r\n", MetricsRequestKind.Malformed)]
    [Arguments("GET /metrics\r\n\r\n", MetricsRequestKind.Malformed)]
    [Arguments("GET  HTTP/1.1\r\n\r\n", MetricsRequestKind.Malformed)]
    [Arguments("GET /metrics HTTP/1.1\r\nbad\r\n\r\n", MetricsRequestKind.Malformed)]
    [Arguments("GET /met\u0001rics HTTP/1.1\r\n\r\n", MetricsRequestKind.Malformed)]
    public async Task Parse_Classifies(string text, MetricsRequestKind expected) =>
        await Assert.That(Parse(text)).IsEqualTo(expected);

    [Test]
    public async Task AHeadOver8KiB_IsMalformed_CompleteOrNot()
    {
        string padding = new('a', MetricsRequest.MaxHeadBytes);
        await Assert.That(Parse("GET /metrics HTTP/1.1\r\nX: " + padding)).IsEqualTo(MetricsRequestKind.Malformed);
        await Assert.That(Parse("GET /metrics HTTP/1.1\r\nX: " + padding + "\r\n\r\n")).IsEqualTo(MetricsRequestKind.Malformed);
    }
}
