using System;
using System.Collections.Generic;
using System.Net;

namespace MonaAot.Net;

/// <summary>
/// Which peers may send a PROXY protocol header (docs/api.md, "TCPServer.proxyProtocol"): a
/// header is a claim anyone could forge, so a server takes it only from its balancers. Every
/// source, or a list of addresses and CIDR ranges; an IPv4-mapped IPv6 peer counts as IPv4.
/// </summary>
public sealed class ProxyTrust
{
    private readonly List<(byte[] Network, int Prefix)> _ranges = [];

    /// <summary>Every source is trusted (proxyProtocol = true).</summary>
    public bool All { get; private init; }

    public static ProxyTrust Everyone { get; } = new() { All = true };

    /// <summary>A list of "address" or "address/prefix"; null with <paramref name="error"/> naming
    /// the first entry that is neither.</summary>
    public static ProxyTrust? Parse(IEnumerable<string> entries, out string? error)
    {
        var trust = new ProxyTrust();
        foreach (string entry in entries)
        {
            if (!trust.TryAdd(entry))
            {
                error = $"'{entry}' is not an address or a CIDR range";
                return null;
            }
        }
        error = null;
        return trust;
    }

    private bool TryAdd(string entry)
    {
        int slash = entry.IndexOf('/');
        string address = slash < 0 ? entry : entry[..slash];
        if (address.Contains('%') || !IPAddress.TryParse(address, out IPAddress? ip))
            return false;
        if (ip.IsIPv4MappedToIPv6)
            ip = ip.MapToIPv4();
        byte[] bytes = ip.GetAddressBytes();
        int prefix = bytes.Length * 8;
        if (slash >= 0 && (!int.TryParse(entry.AsSpan(slash + 1), System.Globalization.NumberStyles.None, null, out prefix) || prefix > bytes.Length * 8))
            return false;
        _ranges.Add((bytes, prefix));
        return true;
    }

    /// <summary>Whether <paramref name="peer"/> is one of the trusted sources.</summary>
    public bool Trusts(in NetAddress peer)
    {
        if (All)
            return true;
        Span<byte> bytes = stackalloc byte[16];
        int length = peer.WriteAddressBytes(bytes); // mapped IPv4 comes back as IPv4; per accept: no IPAddress
        foreach ((byte[] network, int prefix) in _ranges)
        {
            if (network.Length == length && Matches(bytes[..length], network, prefix))
                return true;
        }
        return false;
    }

    private static bool Matches(ReadOnlySpan<byte> address, byte[] network, int prefix)
    {
        int whole = prefix / 8, bits = prefix % 8;
        if (!address[..whole].SequenceEqual(network.AsSpan(0, whole)))
            return false;
        if (bits == 0)
            return true;
        int mask = 0xFF << (8 - bits) & 0xFF;
        return (address[whole] & mask) == (network[whole] & mask);
    }
}
