using System;
using System.Buffers.Binary;
using System.Net;

namespace MonaAot.Net;

/// <summary>What <see cref="ProxyHeader.Parse"/> found in the bytes it was given.</summary>
public enum ProxyParse { NeedMore, Done, Invalid }

/// <summary>
/// A PROXY protocol header, version 1 (text) or 2 (binary), as a load balancer puts it in front
/// of a connection's first byte (docs/api.md, "TCPServer.proxyProtocol"). The parser is
/// stateless: it is given every byte received so far, and answers whether the header is
/// complete, needs more, or is not one. No Lua, no socket: unit-tested and fuzzed alone.
/// </summary>
public struct ProxyHeader
{
    /// <summary>The most a header may take: a v1 line is at most 107 bytes; a v2 header whose
    /// TLVs go beyond this many is refused (the size the protocol's own text recommends for a
    /// receive buffer, enough for the addresses and the usual TLVs).</summary>
    public const int MaxLength = 536;

    /// <summary>A v1 line at most, CRLF included.</summary>
    public const int MaxV1Length = 107;

    /// <summary>Bytes the header took: what follows is the connection's own data.</summary>
    public int Length;

    /// <summary>No original addresses (v1 UNKNOWN, v2 LOCAL or an unsupported family): the
    /// connection's own addresses stand, as for a balancer's health check.</summary>
    public bool Local;

    /// <summary>The original client, when not <see cref="Local"/>.</summary>
    public NetAddress Source;

    /// <summary>The address the client connected to, when not <see cref="Local"/>.</summary>
    public NetAddress Destination;

    private static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private static ReadOnlySpan<byte> V1Prefix => "PROXY "u8;

    /// <summary>Parses <paramref name="data"/>, every byte received so far. Done: the header is
    /// in <paramref name="header"/>; Invalid: <paramref name="error"/> says why.</summary>
    public static ProxyParse Parse(ReadOnlySpan<byte> data, out ProxyHeader header, out string? error)
    {
        header = default;
        error = null;
        if (data.IsEmpty)
            return ProxyParse.NeedMore;
        if (data[0] == (byte)'P')
            return ParseV1(data, ref header, out error);
        if (data[0] == 0x0D)
            return ParseV2(data, ref header, out error);
        error = "not a PROXY protocol header";
        return ProxyParse.Invalid;
    }

    private static ProxyParse ParseV1(ReadOnlySpan<byte> data, ref ProxyHeader header, out string? error)
    {
        error = null;
        int prefix = Math.Min(data.Length, V1Prefix.Length);
        if (!data[..prefix].SequenceEqual(V1Prefix[..prefix]))
        {
            error = "not a PROXY protocol header";
            return ProxyParse.Invalid;
        }
        ReadOnlySpan<byte> window = data[..Math.Min(data.Length, MaxV1Length)];
        int end = window.IndexOf("\r\n"u8);
        if (end < 0)
        {
            if (data.Length >= MaxV1Length)
            {
                error = $"v1 header longer than {MaxV1Length} bytes";
                return ProxyParse.Invalid;
            }
            return ProxyParse.NeedMore;
        }
        header.Length = end + 2;
        ReadOnlySpan<byte> rest = data[V1Prefix.Length..end];
        ReadOnlySpan<byte> protocol = NextField(ref rest);
        if (protocol.SequenceEqual("UNKNOWN"u8))
        {
            header.Local = true; // whatever follows is to be ignored
            return ProxyParse.Done;
        }
        bool v4 = protocol.SequenceEqual("TCP4"u8);
        if (!v4 && !protocol.SequenceEqual("TCP6"u8))
        {
            error = "v1 header with an unknown protocol";
            return ProxyParse.Invalid;
        }
        ReadOnlySpan<byte> source = NextField(ref rest), destination = NextField(ref rest);
        ReadOnlySpan<byte> sourcePort = NextField(ref rest), destinationPort = NextField(ref rest);
        if (!rest.IsEmpty || !Port(sourcePort, out int sp) || !Port(destinationPort, out int dp)
            || !Address(source, v4, sp, out header.Source) || !Address(destination, v4, dp, out header.Destination))
        {
            error = "malformed v1 header";
            return ProxyParse.Invalid;
        }
        return ProxyParse.Done;
    }

    /// <summary>The next field up to a single space (the rest then starts after it).</summary>
    private static ReadOnlySpan<byte> NextField(ref ReadOnlySpan<byte> rest)
    {
        int space = rest.IndexOf((byte)' ');
        ReadOnlySpan<byte> field;
        if (space < 0)
        {
            field = rest;
            rest = default;
        }
        else
        {
            field = rest[..space];
            rest = rest[(space + 1)..];
            if (rest.IsEmpty)
                rest = " "u8; // a trailing space is a malformed line, not a missing field
        }
        return field;
    }

    private static bool Address(ReadOnlySpan<byte> text, bool v4, int port, out NetAddress address)
    {
        address = default;
        Span<byte> bytes = stackalloc byte[16];
        if (v4 ? DottedQuad(text, bytes) : HexGroups(text, bytes))
        {
            address = NetAddress.FromBytes(bytes[..(v4 ? 4 : 16)], port); // the usual forms, read without an IPAddress
            return true;
        }
        if (text.IsEmpty || text.Length > 45)
            return false;
        Span<char> chars = stackalloc char[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            byte b = text[i];
            if (!(b is >= (byte)'0' and <= (byte)'9' || b is >= (byte)'a' and <= (byte)'f' || b is >= (byte)'A' and <= (byte)'F' || b == '.' || b == ':'))
                return false; // no scope ids, no names
            chars[i] = (char)b;
        }
        if (!IPAddress.TryParse(chars, out IPAddress? ip)
            || ip.AddressFamily != (v4 ? System.Net.Sockets.AddressFamily.InterNetwork : System.Net.Sockets.AddressFamily.InterNetworkV6))
            return false;
        address = NetAddress.From(ip, port);
        return true;
    }

    /// <summary>IPv6 as balancers write it: up to 8 groups of 1-4 hex digits, at most one "::".
    /// Any other text (an embedded IPv4 part included) is left to IPAddress, as before.</summary>
    private static bool HexGroups(ReadOnlySpan<byte> text, Span<byte> bytes)
    {
        Span<ushort> groups = stackalloc ushort[8];
        int count = 0, gap = -1, i = 0;
        if (text.StartsWith("::"u8))
        {
            gap = 0;
            i = 2;
        }
        while (i < text.Length)
        {
            int value = 0, digits = 0;
            for (; i < text.Length && digits < 5 && text[i] != ':'; i++, digits++)
            {
                int digit = HexDigit(text[i]);
                if (digit < 0)
                    return false;
                value = value << 4 | digit;
            }
            if (digits is 0 or > 4 || count == 8)
                return false;
            groups[count++] = (ushort)value;
            if (i == text.Length)
                break;
            i++; // the ':' after the group
            if (i < text.Length && text[i] == ':')
            {
                if (gap >= 0)
                    return false;
                gap = count;
                i++;
            }
            else if (i == text.Length)
            {
                return false; // a single ':' at the end
            }
        }
        if (gap < 0 ? count != 8 : count > 7)
            return false;
        bytes[..16].Clear();
        for (int g = 0; g < count; g++)
        {
            int slot = gap < 0 || g < gap ? g : 8 - (count - g);
            BinaryPrimitives.WriteUInt16BigEndian(bytes[(slot * 2)..], groups[g]);
        }
        return true;
    }

    private static int HexDigit(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    /// <summary>"a.b.c.d", each 0-255 in decimal without a leading zero: what balancers write.
    /// Any other text (IPv4's older forms included) is left to IPAddress, as before.</summary>
    private static bool DottedQuad(ReadOnlySpan<byte> text, Span<byte> bytes)
    {
        int part = 0, value = 0, digits = 0;
        foreach (byte b in text)
        {
            if (b == '.')
            {
                if (digits == 0 || part == 3)
                    return false;
                bytes[part++] = (byte)value;
                value = digits = 0;
                continue;
            }
            if (b is < (byte)'0' or > (byte)'9' || (digits == 1 && value == 0) || digits == 3)
                return false;
            value = value * 10 + (b - '0');
            digits++;
            if (value > 255)
                return false;
        }
        if (digits == 0 || part != 3)
            return false;
        bytes[3] = (byte)value;
        return true;
    }

    private static bool Port(ReadOnlySpan<byte> text, out int port)
    {
        port = 0;
        if (text.IsEmpty || text.Length > 5 || (text.Length > 1 && text[0] == '0'))
            return false;
        foreach (byte b in text)
        {
            if (b is < (byte)'0' or > (byte)'9')
                return false;
            port = port * 10 + (b - '0');
        }
        return port <= 65535;
    }

    private static ProxyParse ParseV2(ReadOnlySpan<byte> data, ref ProxyHeader header, out string? error)
    {
        error = null;
        int signature = Math.Min(data.Length, V2Signature.Length);
        if (!data[..signature].SequenceEqual(V2Signature[..signature]))
        {
            error = "not a PROXY protocol header";
            return ProxyParse.Invalid;
        }
        if (data.Length > 12 && data[12] >> 4 != 2)
        {
            error = "v2 header with an unknown version";
            return ProxyParse.Invalid;
        }
        if (data.Length > 12 && (data[12] & 0x0F) > 1)
        {
            error = "v2 header with an unknown command";
            return ProxyParse.Invalid;
        }
        if (data.Length < 16)
            return ProxyParse.NeedMore;
        int length = 16 + BinaryPrimitives.ReadUInt16BigEndian(data[14..]);
        if (length > MaxLength)
        {
            error = $"v2 header longer than {MaxLength} bytes";
            return ProxyParse.Invalid;
        }
        if (data.Length < length)
            return ProxyParse.NeedMore;
        header.Length = length;
        ReadOnlySpan<byte> body = data[16..length]; // addresses, then TLVs (skipped)
        if ((data[12] & 0x0F) == 0 || (data[13] & 0x0F) != 1)
        {
            header.Local = true; // LOCAL (a health check), or not a stream: the real addresses stand
            return ProxyParse.Done;
        }
        switch (data[13] >> 4)
        {
            case 1 when body.Length >= 12:
                header.Source = NetAddress.FromBytes(body[..4], BinaryPrimitives.ReadUInt16BigEndian(body[8..]));
                header.Destination = NetAddress.FromBytes(body[4..8], BinaryPrimitives.ReadUInt16BigEndian(body[10..]));
                return ProxyParse.Done;
            case 2 when body.Length >= 36:
                header.Source = NetAddress.FromBytes(body[..16], BinaryPrimitives.ReadUInt16BigEndian(body[32..]));
                header.Destination = NetAddress.FromBytes(body[16..32], BinaryPrimitives.ReadUInt16BigEndian(body[34..]));
                return ProxyParse.Done;
            case 1:
            case 2:
                error = "v2 header too short for its addresses";
                return ProxyParse.Invalid;
            default:
                header.Local = true; // AF_UNSPEC or AF_UNIX: nothing an IP peer address can say
                return ProxyParse.Done;
        }
    }
}
