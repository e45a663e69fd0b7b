using System;
using System.Buffers.Binary;
using System.Net;

namespace MonaAot.Tests.Support;

/// <summary>PROXY protocol v2 headers as a balancer sends them, built by the tests (the parser
/// under test is not used to make its own input).</summary>
public static class ProxyHeaders
{
    public static readonly byte[] Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>A v2 header: command 0 LOCAL or 1 PROXY, family byte, addresses, then TLVs.</summary>
    public static byte[] V2(int command, int family, byte[] addresses, byte[]? tlvs = null)
    {
        tlvs ??= [];
        var header = new byte[16 + addresses.Length + tlvs.Length];
        Signature.CopyTo(header, 0);
        header[12] = (byte)(0x20 | command);
        header[13] = (byte)family;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)(addresses.Length + tlvs.Length));
        addresses.CopyTo(header, 16);
        tlvs.CopyTo(header, 16 + addresses.Length);
        return header;
    }

    /// <summary>A v2 PROXY header for TCP over IPv4 or IPv6 (the family of <paramref name="source"/>).</summary>
    public static byte[] V2Inet(IPAddress source, int sourcePort, IPAddress destination, int destinationPort, byte[]? tlvs = null)
    {
        byte[] s = source.GetAddressBytes(), d = destination.GetAddressBytes();
        var addresses = new byte[s.Length * 2 + 4];
        s.CopyTo(addresses, 0);
        d.CopyTo(addresses, s.Length);
        BinaryPrimitives.WriteUInt16BigEndian(addresses.AsSpan(s.Length * 2), (ushort)sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(addresses.AsSpan(s.Length * 2 + 2), (ushort)destinationPort);
        return V2(1, s.Length == 4 ? 0x11 : 0x21, addresses, tlvs);
    }
}
