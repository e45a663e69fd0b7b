using System;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using MonaAot.Interop;

namespace MonaAot.Net;

/// <summary>
/// An IP address and port in the kernel's own form (sockaddr_in or sockaddr_in6), so that it goes
/// to bind/connect/sendto without conversion. Formatting follows docs/api.md, "Conventions"
/// (addresses): "ip:port", "[v6]:port", and an IPv4-mapped IPv6 address shows as plain IPv4. The
/// sockaddr is the only field, so a <c>NetAddress*</c> is a <c>sockaddr*</c>.
/// </summary>
public unsafe struct NetAddress : IEquatable<NetAddress>
{
    private Libc.sockaddr_in6 _raw; // a sockaddr_in when Family is AF_INET

    public readonly int Family => _raw.sin6_family;

    /// <summary>The size of the sockaddr for this family.</summary>
    public readonly uint Length => Family == SocketCalls.AF_INET6 ? (uint)sizeof(Libc.sockaddr_in6) : (uint)sizeof(Libc.sockaddr_in);

    public int Port
    {
        readonly get => (ushort)((_raw.sin6_port >> 8) | (_raw.sin6_port << 8));
        set => _raw.sin6_port = (ushort)(((ushort)value >> 8) | ((ushort)value << 8));
    }

    public static NetAddress From(IPAddress ip, int port)
    {
        var address = default(NetAddress);
        if (ip.AddressFamily == AddressFamily.InterNetworkV6)
        {
            address._raw.sin6_family = (ushort)SocketCalls.AF_INET6;
            address._raw.sin6_scope_id = (uint)ip.ScopeId;
            ip.TryWriteBytes(new Span<byte>(address._raw.sin6_addr, 16), out _);
        }
        else
        {
            Libc.sockaddr_in* v4 = (Libc.sockaddr_in*)&address._raw;
            v4->sin_family = (ushort)SocketCalls.AF_INET;
            ip.TryWriteBytes(new Span<byte>(v4->sin_addr, 4), out _);
        }
        address.Port = port;
        return address;
    }

    /// <summary>An address of 4 bytes (IPv4) or 16 (IPv6), network order, as a PROXY header
    /// carries it: nothing allocated, unlike going through <see cref="IPAddress"/>.</summary>
    public static NetAddress FromBytes(ReadOnlySpan<byte> ip, int port)
    {
        var address = default(NetAddress);
        if (ip.Length == 16)
        {
            address._raw.sin6_family = (ushort)SocketCalls.AF_INET6;
            ip.CopyTo(new Span<byte>(address._raw.sin6_addr, 16));
        }
        else
        {
            Libc.sockaddr_in* v4 = (Libc.sockaddr_in*)&address._raw;
            v4->sin_family = (ushort)SocketCalls.AF_INET;
            ip[..4].CopyTo(new Span<byte>(v4->sin_addr, 4));
        }
        address.Port = port;
        return address;
    }

    /// <summary>The address's bytes into <paramref name="bytes"/> (16 at least): 4 for IPv4,
    /// an IPv4-mapped IPv6 address included (as <see cref="ToIPAddress"/> counts it), else 16.
    /// Returns how many; nothing allocated.</summary>
    public readonly int WriteAddressBytes(Span<byte> bytes)
    {
        Libc.sockaddr_in6 raw = _raw;
        if (raw.sin6_family != SocketCalls.AF_INET6)
        {
            new ReadOnlySpan<byte>(((Libc.sockaddr_in*)&raw)->sin_addr, 4).CopyTo(bytes);
            return 4;
        }
        var ip = new ReadOnlySpan<byte>(raw.sin6_addr, 16);
        if (ip[..10].IndexOfAnyExcept((byte)0) < 0 && ip[10] == 0xFF && ip[11] == 0xFF)
        {
            ip[12..].CopyTo(bytes);
            return 4;
        }
        ip.CopyTo(bytes);
        return 16;
    }

    /// <summary>The same endpoint as an IPv6 address: IPv4 becomes ::ffff:a.b.c.d, which is how a
    /// dual-stack (AF_INET6) socket must be given an IPv4 destination.</summary>
    public readonly NetAddress ToIPv6()
    {
        if (Family == SocketCalls.AF_INET6)
            return this;
        return From(ToIPAddress().MapToIPv6(), Port);
    }

    /// <summary>True when both hold the same family, address and port (comparison of the used
    /// part of the sockaddr in words; nothing allocated). Per datagram in the UDP sender caches,
    /// hence words rather than a span comparison (docs/performance.md, "Issue 19: CPU per
    /// message").</summary>
    public readonly bool SameAs(in NetAddress other)
    {
        if (Family != other.Family)
            return false;
        Libc.sockaddr_in6 mine = _raw, theirs = other._raw;
        ulong* a = (ulong*)&mine, b = (ulong*)&theirs;
        if (a[0] != b[0] || a[1] != b[1])
            return false; // a sockaddr_in is these 16 bytes
        return Family != SocketCalls.AF_INET6 || (a[2] == b[2] && ((uint*)a)[6] == ((uint*)b)[6]);
    }

    public readonly bool Equals(NetAddress other) => SameAs(other);

    public override readonly bool Equals(object? obj) => obj is NetAddress other && SameAs(other);

    /// <summary>A hash of family, port and address, for caches keyed by endpoint: the words
    /// <see cref="SameAs"/> compares (a sockaddr_in's first 8 bytes are all of them but its
    /// zero padding).</summary>
    public override readonly int GetHashCode()
    {
        Libc.sockaddr_in6 raw = _raw;
        ulong* w = (ulong*)&raw;
        return Family == SocketCalls.AF_INET6 ? HashCode.Combine(w[0], w[1], w[2], ((uint*)w)[6]) : w[0].GetHashCode();
    }

    public readonly IPAddress ToIPAddress()
    {
        Libc.sockaddr_in6 raw = _raw;
        if (raw.sin6_family == SocketCalls.AF_INET6)
        {
            var ip = new IPAddress(new ReadOnlySpan<byte>(raw.sin6_addr, 16), raw.sin6_scope_id);
            return ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;
        }
        return new IPAddress(new ReadOnlySpan<byte>(((Libc.sockaddr_in*)&raw)->sin_addr, 4));
    }

    /// <summary>"ip:port" or "[v6]:port" (docs/api.md, "Conventions").</summary>
    public override readonly string ToString() => Format(ToIPAddress(), Port);

    public static string Format(IPAddress ip, int port) =>
        ip.AddressFamily == AddressFamily.InterNetworkV6
            ? string.Create(CultureInfo.InvariantCulture, $"[{ip}]:{port}")
            : string.Create(CultureInfo.InvariantCulture, $"{ip}:{port}");

    /// <summary>The wildcard address of <paramref name="family"/>, port 0.</summary>
    public static NetAddress Any(int family) =>
        From(family == SocketCalls.AF_INET6 ? IPAddress.IPv6Any : IPAddress.Any, 0);

    /// <summary>Reads the local (or peer) address of a socket; false if the call fails.</summary>
    public static bool OfSocket(nint socket, bool peer, out NetAddress address)
    {
        address = default;
        fixed (NetAddress* p = &address)
            return SocketCalls.GetName(socket, peer, p);
    }
}
