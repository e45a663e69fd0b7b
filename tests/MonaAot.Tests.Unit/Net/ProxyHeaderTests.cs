using System;
using System.Linq;
using System.Net;
using System.Text;
using System.Threading.Tasks;
using MonaAot.Net;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using static MonaAot.Tests.Support.ProxyHeaders;

namespace MonaAot.Tests.Net;

/// <summary>The PROXY protocol header parser alone (docs/api.md, "TCPServer.proxyProtocol") and
/// the trusted sources list.</summary>
public class ProxyHeaderTests
{
    private static (ProxyParse, ProxyHeader, string?) Parse(byte[] data) =>
        (ProxyHeader.Parse(data, out ProxyHeader header, out string? error), header, error);

    [Test]
    public async Task V1_Tcp4_GivesBothAddresses_AndItsLength()
    {
        byte[] data = Encoding.ASCII.GetBytes("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET");
        var (result, header, _) = Parse(data);
        await Assert.That(result).IsEqualTo(ProxyParse.Done);
        await Assert.That(header.Length).IsEqualTo(data.Length - 3);
        await Assert.That(header.Local).IsFalse();
        await Assert.That(header.Source.ToString()).IsEqualTo("192.0.2.1:56324");
        await Assert.That(header.Destination.ToString()).IsEqualTo("198.51.100.2:443");
    }

    [Test]
    public async Task V1_Tcp6_And_Unknown()
    {
        var (result, header, _) = Parse(Encoding.ASCII.GetBytes("PROXY TCP6 2001:db8::1 2001:db8::2 4000 80\r\n"));
        await Assert.That(result).IsEqualTo(ProxyParse.Done);
        await Assert.That(header.Source.ToString()).IsEqualTo("[2001:db8::1]:4000");
        (result, header, _) = Parse(Encoding.ASCII.GetBytes("PROXY UNKNOWN ff:: ff:: 1 2\r\n"));
        await Assert.That(result).IsEqualTo(ProxyParse.Done);
        await Assert.That(header.Local).IsTrue();
    }

    /// <summary>The usual forms are read without an IPAddress (ProxyHeader.DottedQuad and
    /// HexGroups), the others by IPAddress: either way the address is IPAddress's reading.</summary>
    [Test]
    [Arguments("TCP4", "0.0.0.0")]
    [Arguments("TCP4", "255.255.255.255")]
    [Arguments("TCP4", "10.1.200.99")]
    [Arguments("TCP4", "010.1.2.3")]
    [Arguments("TCP4", "1.2.3")]
    [Arguments("TCP6", "::")]
    [Arguments("TCP6", "::1")]
    [Arguments("TCP6", "1::")]
    [Arguments("TCP6", "2001:DB8::a:0:7")]
    [Arguments("TCP6", "1:2:3:4:5:6:7::")]
    [Arguments("TCP6", "::2:3:4:5:6:7:8")]
    [Arguments("TCP6", "fe80:0:0:0:0:0:0:ffff")]
    [Arguments("TCP6", "0001:0a00:00b0:c000:1:1:1:1")]
    [Arguments("TCP6", "::ffff:192.0.2.1")]
    [Arguments("TCP6", "1:2:3::4:5:6:7")]
    public async Task V1_Addresses_ReadAsIPAddressReadsThem(string protocol, string address)
    {
        var (result, header, error) = Parse(Encoding.ASCII.GetBytes($"PROXY {protocol} {address} {address} 1 2\r\n"));
        await Assert.That(result).IsEqualTo(ProxyParse.Done).Because(error ?? "");
        await Assert.That(header.Source.ToString()).IsEqualTo(NetAddress.From(IPAddress.Parse(address), 1).ToString());
        await Assert.That(header.Source.Family).IsEqualTo(NetAddress.From(IPAddress.Parse(address), 1).Family);
    }

    /// <summary>The byte-level reading (ProxyHeader.DottedQuad and HexGroups) against the
    /// reading it replaced, IPAddress.TryParse of the same text, over many generated addresses
    /// of both families, usual and odd (leading zeros, "::" anywhere, too many or too few
    /// groups, embedded IPv4, out-of-range parts): the same accepted and refused, the same
    /// address.</summary>
    [Test]
    public async Task V1_Addresses_AcceptedAndRefusedAsIPAddressDid()
    {
        var random = new Random(19);
        int compared = 0, accepted = 0;
        var mismatches = new System.Collections.Generic.List<string>();
        for (int n = 0; n < 100_000 && mismatches.Count < 5; n++)
        {
            string text = GeneratedAddress(random);
            foreach (string protocol in (string[])["TCP4", "TCP6"])
            {
                bool v4 = protocol == "TCP4";
                bool expected = IPAddress.TryParse(text, out IPAddress? ip)
                                && ip.AddressFamily == (v4 ? System.Net.Sockets.AddressFamily.InterNetwork : System.Net.Sockets.AddressFamily.InterNetworkV6)
                                && text.Length <= 45 && text.All(c => Uri.IsHexDigit(c) || c is '.' or ':');
                var (result, header, _) = Parse(Encoding.ASCII.GetBytes($"PROXY {protocol} {text} {(v4 ? "1.2.3.4" : "::1")} 1 2\r\n"));
                compared++;
                if ((result == ProxyParse.Done) != expected)
                    mismatches.Add($"{protocol} '{text}': {result}, IPAddress {(expected ? "accepts" : "refuses")}");
                else if (expected && (header.Source.ToString() != NetAddress.From(ip!, 1).ToString() || header.Source.Family != NetAddress.From(ip!, 1).Family))
                    mismatches.Add($"{protocol} '{text}': {header.Source}, IPAddress {ip}");
                else if (expected)
                    accepted++;
            }
        }
        await Assert.That(mismatches).IsEmpty();
        await Assert.That(accepted).IsGreaterThan(compared / 20); // enough valid ones among them
    }

    /// <summary>The trust check reads a peer's bytes with NetAddress.WriteAddressBytes where it
    /// read them through IPAddress (ToIPAddress, IPv4-mapped as IPv4): the same bytes for IPv4,
    /// IPv6, IPv4-mapped and the forms next to it (::ffff:0:0/96 with one byte off, ::a.b.c.d).</summary>
    [Test]
    public async Task TrustCheck_PeerBytes_AsIPAddressGaveThem()
    {
        var random = new Random(20);
        Span<byte> written = stackalloc byte[16], expected = stackalloc byte[16];
        var ip = new byte[16];
        int mismatches = 0;
        for (int n = 0; n < 20_000; n++)
        {
            NetAddress peer;
            if (n % 4 == 0)
            {
                random.NextBytes(ip.AsSpan(0, 4));
                peer = NetAddress.From(new IPAddress(ip.AsSpan(0, 4)), 1);
            }
            else
            {
                random.NextBytes(ip);
                if (n % 4 != 3)
                {
                    ip.AsSpan(0, 10).Clear(); // mapped, or nearly
                    ip[10] = ip[11] = 0xFF;
                    if (n % 8 == 1)
                        ip[random.Next(12)] ^= (byte)(1 << random.Next(8));
                }
                peer = NetAddress.From(new IPAddress(ip), 1);
            }
            int length = peer.WriteAddressBytes(written);
            peer.ToIPAddress().TryWriteBytes(expected, out int expectedLength);
            if (length != expectedLength || !written[..length].SequenceEqual(expected[..expectedLength]))
                mismatches++;
        }
        await Assert.That(mismatches).IsEqualTo(0);
    }

    /// <summary>An address-like text: dotted decimal parts, hex groups, or both, with the
    /// separators and lengths now and then wrong.</summary>
    private static string GeneratedAddress(Random random)
    {
        var text = new StringBuilder();
        switch (random.Next(3))
        {
            case 0: // dotted decimal, 1 to 5 parts
                int parts = random.Next(10) < 8 ? 4 : random.Next(1, 6);
                for (int i = 0; i < parts; i++)
                {
                    if (i > 0)
                        text.Append(random.Next(40) == 0 ? ".." : ".");
                    text.Append(DecimalPart(random));
                }
                break;
            default: // hex groups, maybe one or two "::", maybe a dotted tail
                int groups = random.Next(10) < 6 ? random.Next(1, 9) : random.Next(0, 11);
                int gap = random.Next(3) == 0 ? -1 : random.Next(0, groups + 1);
                int secondGap = random.Next(30) == 0 ? random.Next(0, groups + 1) : -1;
                bool dotted = random.Next(8) == 0;
                if (gap == 0 || secondGap == 0)
                    text.Append("::");
                for (int i = 0; i < groups; i++)
                {
                    if (i > 0)
                        text.Append(i == gap || i == secondGap ? "::" : random.Next(60) == 0 ? ":::" : ":");
                    int digits = random.Next(12) == 0 ? random.Next(0, 7) : random.Next(1, 5);
                    for (int d = 0; d < digits; d++)
                        text.Append("0123456789abcdefABCDEF"[random.Next(random.Next(3) == 0 ? 2 : 22)]);
                }
                if ((gap == groups || secondGap == groups) && groups > 0)
                    text.Append("::");
                if (dotted)
                    text.Append(text.Length == 0 || text[^1] == ':' ? "" : ":").Append($"{DecimalPart(random)}.{DecimalPart(random)}.{DecimalPart(random)}.{DecimalPart(random)}");
                if (random.Next(50) == 0)
                    text.Append(':');
                break;
        }
        return text.ToString();
    }

    private static string DecimalPart(Random random) => random.Next(8) switch
    {
        0 => "0" + random.Next(0, 300), // a leading zero
        1 => random.Next(256, 1000).ToString(),
        2 => "0",
        _ => random.Next(0, 256).ToString(),
    };

    /// <summary>Per accepted connection behind a balancer (docs/architecture.md, "Connection
    /// pooling"): the usual headers, and the trust check, allocate nothing.</summary>
    [Test]
    public async Task UsualHeaders_AndTheTrustCheck_AllocateNothing()
    {
        byte[][] headers =
        [
            Encoding.ASCII.GetBytes("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"),
            Encoding.ASCII.GetBytes("PROXY TCP6 2001:db8::1 2001:db8:0:0:1:2:3:4 4000 80\r\n"),
            V2Inet(IPAddress.Parse("192.0.2.1"), 1, IPAddress.Parse("198.51.100.2"), 2),
            V2Inet(IPAddress.Parse("2001:db8::1"), 1, IPAddress.Parse("2001:db8::2"), 2),
        ];
        ProxyTrust trust = ProxyTrust.Parse(["10.0.0.0/8", "2001:db8::/32", "192.0.2.0/24"], out _)!;
        NetAddress v4 = NetAddress.From(IPAddress.Parse("192.0.2.9"), 1), v6 = NetAddress.From(IPAddress.Parse("2001:db8::9"), 1);
        NetAddress mapped = NetAddress.From(IPAddress.Parse("::ffff:10.1.2.3"), 1);
        int done = 0;
        for (int round = 0; round < 2; round++) // the first round warms up
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            foreach (byte[] header in headers)
                done += ProxyHeader.Parse(header, out _, out _) == ProxyParse.Done ? 1 : 0;
            done += (trust.Trusts(v4) ? 1 : 0) + (trust.Trusts(v6) ? 1 : 0) + (trust.Trusts(mapped) ? 1 : 0);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (round == 1)
                await Assert.That(allocated).IsEqualTo(0);
        }
        await Assert.That(done).IsEqualTo(14);
    }

    [Test]
    [Arguments("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n")]
    [Arguments("PROXY TCP6 1::2::3 ::1 1 2\r\n")]
    [Arguments("PROXY TCP6 12345::1 ::1 1 2\r\n")]
    [Arguments("PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n")]
    [Arguments("PROXY TCP6 1:2:3:4:5:6:7:8:: ::1 1 2\r\n")]
    [Arguments("PROXY TCP6 ::1: ::1 1 2\r\n")]
    [Arguments("PROXY TCP6 :1 ::1 1 2\r\n")]
    [Arguments("PROXY TCP4 256.1.1.1 1.1.1.1 1 2\r\n")]
    [Arguments("PROXY TCP4 1.1.1.1. 1.1.1.1 1 2\r\n")]
    [Arguments("PROXY TCP4 1..1.1 1.1.1.1 1 2\r\n")]
    public async Task V1_BadAddresses_AreInvalid(string text)
    {
        var (result, _, _) = Parse(Encoding.ASCII.GetBytes(text));
        await Assert.That(result).IsEqualTo(ProxyParse.Invalid);
    }

    [Test]
    [Arguments("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443 \r\n")]
    [Arguments("PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n")]
    [Arguments("PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n")]
    [Arguments("PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n")]
    [Arguments("PROXY TCP4 192.0.2.1 198.51.100.2 -1 443\r\n")]
    [Arguments("PROXY TCP4 192.0.2.1 198.51.100.2 056 443\r\n")]
    [Arguments("PROXY TCP4 192.0.2.1  198.51.100.2 1 443\r\n")]
    [Arguments("PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n")]
    [Arguments("PROXY TCP4 localhost 198.51.100.2 1 2\r\n")]
    [Arguments("GET / HTTP/1.1\r\n")]
    [Arguments("proxy TCP4")]
    public async Task V1_Malformed_IsInvalid_WithAReason(string text)
    {
        var (result, _, error) = Parse(Encoding.ASCII.GetBytes(text));
        await Assert.That(result).IsEqualTo(ProxyParse.Invalid);
        await Assert.That(error).IsNotNull();
    }

    [Test]
    public async Task V1_WithoutCrlf_In107Bytes_IsTooLong()
    {
        byte[] data = Encoding.ASCII.GetBytes("PROXY TCP6 " + new string('1', 96));
        await Assert.That(Parse(data[..106]).Item1).IsEqualTo(ProxyParse.NeedMore);
        var (result, _, error) = Parse(data);
        await Assert.That(result).IsEqualTo(ProxyParse.Invalid);
        await Assert.That(error!).Contains("107");
    }

    [Test]
    public async Task V2_Ipv4_WithTlvs_SkipsThem()
    {
        byte[] tlvs = [0x01, 0x00, 0x02, (byte)'h', (byte)'2', 0x04, 0x00, 0x03, 1, 2, 3];
        byte[] data = V2Inet(IPAddress.Parse("192.0.2.7"), 1234, IPAddress.Parse("10.0.0.1"), 80, tlvs);
        var (result, header, _) = Parse([.. data, .. "after"u8.ToArray()]);
        await Assert.That(result).IsEqualTo(ProxyParse.Done);
        await Assert.That(header.Length).IsEqualTo(data.Length);
        await Assert.That(header.Source.ToString()).IsEqualTo("192.0.2.7:1234");
        await Assert.That(header.Destination.ToString()).IsEqualTo("10.0.0.1:80");
    }

    [Test]
    public async Task V2_Ipv6_And_Local()
    {
        var (result, header, _) = Parse(V2Inet(IPAddress.Parse("2001:db8::7"), 65535, IPAddress.Parse("::1"), 1));
        await Assert.That(result).IsEqualTo(ProxyParse.Done);
        await Assert.That(header.Source.ToString()).IsEqualTo("[2001:db8::7]:65535");
        (result, header, _) = Parse(V2(0, 0x11, new byte[12]));
        await Assert.That(result).IsEqualTo(ProxyParse.Done);
        await Assert.That(header.Local).IsTrue();
        await Assert.That(header.Length).IsEqualTo(28);
    }

    [Test]
    public async Task V2_EveryPrefix_NeedsMore()
    {
        byte[] data = V2Inet(IPAddress.Parse("192.0.2.7"), 1234, IPAddress.Parse("10.0.0.1"), 80);
        for (int i = 0; i < data.Length; i++)
            await Assert.That(Parse(data[..i]).Item1).IsEqualTo(ProxyParse.NeedMore);
        await Assert.That(Parse(data).Item1).IsEqualTo(ProxyParse.Done);
    }

    [Test]
    public async Task V2_Malformed_IsInvalid()
    {
        byte[] wrongVersion = V2(1, 0x11, new byte[12]);
        wrongVersion[12] = 0x11;
        await Assert.That(Parse(wrongVersion).Item1).IsEqualTo(ProxyParse.Invalid);
        byte[] wrongCommand = V2(1, 0x11, new byte[12]);
        wrongCommand[12] = 0x22;
        await Assert.That(Parse(wrongCommand).Item1).IsEqualTo(ProxyParse.Invalid);
        await Assert.That(Parse(V2(1, 0x21, new byte[12])).Item1).IsEqualTo(ProxyParse.Invalid); // too short for IPv6
        await Assert.That(Parse(V2(1, 0x11, new byte[600])).Item1).IsEqualTo(ProxyParse.Invalid); // over 536
        byte[] badSignature = V2(1, 0x11, new byte[12]);
        badSignature[5] = 0x0C;
        await Assert.That(Parse(badSignature[..6]).Item1).IsEqualTo(ProxyParse.Invalid);
    }

    [Test]
    public async Task Trust_AddressesAndRanges()
    {
        ProxyTrust trust = ProxyTrust.Parse(["127.0.0.1", "10.0.0.0/8", "::1", "2001:db8::/32"], out string? error)!;
        await Assert.That(error).IsNull();
        await Assert.That(trust.Trusts(NetAddress.From(IPAddress.Parse("127.0.0.1"), 5))).IsTrue();
        await Assert.That(trust.Trusts(NetAddress.From(IPAddress.Parse("::ffff:10.9.8.7"), 5))).IsTrue();
        await Assert.That(trust.Trusts(NetAddress.From(IPAddress.Parse("11.0.0.1"), 5))).IsFalse();
        await Assert.That(trust.Trusts(NetAddress.From(IPAddress.Parse("127.0.0.2"), 5))).IsFalse();
        await Assert.That(trust.Trusts(NetAddress.From(IPAddress.Parse("::1"), 5))).IsTrue();
        await Assert.That(trust.Trusts(NetAddress.From(IPAddress.Parse("2001:db8:ff::1"), 5))).IsTrue();
        await Assert.That(trust.Trusts(NetAddress.From(IPAddress.Parse("2001:db9::1"), 5))).IsFalse();
        await Assert.That(ProxyTrust.Parse(["10.0.0.0/33"], out error)).IsNull();
        await Assert.That(error!).Contains("10.0.0.0/33");
        await Assert.That(ProxyTrust.Parse(["balancer.local"], out _)).IsNull();
        await Assert.That(ProxyTrust.Parse(["10.0.0.0/+8"], out _)).IsNull();
    }
}
