using System;
using System.Collections.Generic;
using System.Net;
using MonaAot.Interop;
using MonaAot.Reactor;

namespace MonaAot.Net;

/// <summary>What a UDP socket reports to its owner (a script's UDPSocket). Loop thread.</summary>
public interface IUdpSocketEvents
{
    /// <summary>One datagram. <paramref name="from"/> is the sender's "ip:port"; the same string
    /// instance as last time when the sender is the same.</summary>
    void OnDatagram(UdpSocket socket, ReadOnlySpan<byte> data, string from);
}

/// <summary>
/// A UDP socket on the reactor (docs/api.md, "UDPSocket"). This file holds what every platform
/// shares: the lifecycle, the peer's errors, the sender cache and the multicast settings. How
/// datagrams are received and sent is the platform's half: UdpSocket.Unix.cs (recvmmsg, replies
/// gathered per batch and sent by sendmmsg, a native queue) and UdpSocket.Windows.cs (recvfrom,
/// sends posted to the completion port). The socket is created by bind, connect or the first
/// send (which takes an ephemeral port, as the OS does), and close() makes the object reusable.
/// </summary>
public sealed unsafe partial class UdpSocket : IIoHandler
{
    /// <summary>The largest UDP payload over IPv4 (65,535 - 20 - 8); applied to IPv6 too.</summary>
    public const int MaxDatagram = 65_507;

    private readonly NetContext _net;
    private readonly IUdpSocketEvents _events;
    private readonly bool _allowBroadcast;
    /// <summary>Replies up to this size, sent while a received batch is being handled, wait for
    /// the end of the batch (one sendmmsg for all); larger ones go at once.</summary>
    public const int GatherLimit = 2048;

    // Enough for the peers of a busy socket; past it the cache starts again (bounded memory).
    private const int SenderCacheLimit = 1024;

    // Senders' address texts: a datagram from a peer seen before costs no string.
    private readonly Dictionary<NetAddress, string> _senderTexts = new();
    private nint _fd = -1;
    private int _family;
    private ulong _token;
    private bool _connected;
    private string? _localText;
    private string? _peerText;
    private bool _multicastLoop = true;
    private int _multicastTtl = 1;
    // An error the kernel reported for the connected peer (ICMP port or host unreachable),
    // found by a receive or a queued send; the next send returns it (docs/api.md, "udp:send").
    private int _peerError;

    public UdpSocket(NetContext net, IUdpSocketEvents events, bool allowBroadcast)
    {
        _net = net;
        _events = events;
        _allowBroadcast = allowBroadcast;
    }

    /// <summary>What the refusal of a broadcast send advises, after "broadcast not allowed
    /// (address): ": its owner knows how a socket that allows broadcast is made.</summary>
    public string BroadcastAdvice { get; init; } = "the socket was made without broadcast";

    public bool IsOpen => _fd != -1;

    /// <summary>Bytes of datagrams accepted by <see cref="Send"/> and not handed to the kernel
    /// yet (queued, or posted and not completed on Windows).</summary>
    public long Queued => QueuedBytes;

    // The platform's half (UdpSocket.Unix.cs, UdpSocket.Windows.cs): IIoHandler.OnIo and the
    // following.

    /// <summary>The bytes behind <see cref="Queued"/>.</summary>
    private partial long QueuedBytes { get; }

    /// <summary>Sends one datagram now or queues it; <paramref name="target"/> is null for the
    /// connected peer, else the recipient in the socket's family.</summary>
    private partial string? SendNow(ReadOnlySpan<byte> data, NetAddress* target, NetAddress* recipient);

    /// <summary>Whether the socket's receives report the peer's unreachability (on once
    /// connected), where the platform needs to be told.</summary>
    partial void ReportUnreachable(nint fd, bool report);

    private partial string? SetMembershipOnPlatform(IPAddress group, string? networkInterface, bool join);

    private partial void ApplyMulticastOptionsOnPlatform();

    /// <summary>The socket is closed: forgets what was queued or posted on it.</summary>
    private partial void ForgetSends();

    public string? LocalAddress =>
        _fd == -1 ? null : _localText ??= NetAddress.OfSocket(_fd, peer: false, out NetAddress local) ? local.ToString() : null;

    public string? PeerAddress => _connected ? _peerText : null;

    /// <summary>True when the last <see cref="Send"/> failed because the connected peer is
    /// unreachable (the kernel's report of an ICMP error), which the owner also logs.</summary>
    public bool PeerUnreachable { get; private set; }

    public string? Bind(NetAddress address)
    {
        if (_fd != -1)
            return "already bound or connected (close() first)";
        // A socket the service manager already bound for this address is taken as it is.
        if (SocketActivation.TryAdopt(address, stream: false, out nint passed))
            return Open(address.Family, passed);
        if (Open(address.Family) is { } openError)
            return openError;
        if (_net.ReusePort)
            SocketCalls.SetReusePort(_fd);
        CallResult bound = SocketCalls.Bind(_fd, &address);
        if (bound.Failed)
        {
            string error = NetError.Describe(_net.Logger, "bind", _fd, bound.Error, address.ToString());
            Close();
            return error;
        }
        return null;
    }

    public string? Connect(NetAddress address)
    {
        if (_connected)
            return "already connected (close() first)";
        if (_fd == -1 && Open(address.Family) is { } openError)
            return openError;
        NetAddress target = _family == SocketCalls.AF_INET6 ? address.ToIPv6() : address;
        CallResult connected = SocketCalls.Connect(_fd, &target);
        if (connected.Failed)
            return NetError.Describe(_net.Logger, "connect", _fd, connected.Error, address.ToString());
        _connected = true;
        _peerError = 0;
        ReportUnreachable(_fd, true);
        _peerText = address.ToString();
        _localText = null; // connecting may bind or change the local address
        return null;
    }

    /// <summary>Sends one datagram to <paramref name="recipient"/>, or to the connected peer when
    /// it is null. Returns null, or why it was not sent.</summary>
    public string? Send(ReadOnlySpan<byte> data, NetAddress* recipient)
    {
        PeerUnreachable = false;
        if (data.Length > MaxDatagram)
            return $"datagram too large ({data.Length} bytes, {MaxDatagram} at most)";
        if (recipient == null && !_connected)
            return "no recipient: give an address or connect() first";
        if (_fd == -1 && Open(recipient->Family) is { } openError)
            return openError;
        if (_peerError != 0)
        {
            // The kernel would fail this send with it too (Linux keeps it until read); the
            // datagram is not sent, as there.
            int reported = _peerError;
            _peerError = 0;
            return Failure(reported, recipient);
        }
        NetAddress target = default;
        if (recipient != null)
            target = _family == SocketCalls.AF_INET6 ? recipient->ToIPv6() : *recipient;
        return SendNow(data, recipient != null ? &target : null, recipient);
    }

    /// <summary>Why a send failed, noting whether the peer is unreachable.</summary>
    private string Failure(int errno, NetAddress* recipient)
    {
        _net.Stats.UdpErrors++;
        PeerUnreachable = _connected && IsPeerReport(errno);
        if (PeerUnreachable && errno == Libc.ECONNRESET)
            errno = Libc.ECONNREFUSED; // Winsock's word for a UDP port unreachable
        // Linux refuses a datagram to port 0 with EINVAL: the script's address, not a bug.
        if (errno == Libc.EINVAL && recipient != null && recipient->Port == 0)
            return NetError.Describe(errno, recipient->ToString());
        return Describe(errno, recipient != null ? recipient->ToString() : _peerText ?? "?");
    }

    /// <summary>The errors a connected UDP socket gets from the ICMP messages about its peer:
    /// port unreachable (Winsock reports it as a reset), host or network unreachable.</summary>
    private static bool IsPeerReport(int errno) =>
        errno is Libc.ECONNREFUSED or Libc.ECONNRESET or Libc.EHOSTUNREACH or Libc.ENETUNREACH;

    /// <summary>Keeps an error a receive or a queued send found about the connected peer, for
    /// the next send to return.</summary>
    private void NotePeerError(int errno)
    {
        if (_connected && IsPeerReport(errno))
            _peerError = errno;
    }

    private string Describe(int errno, string address) => errno switch
    {
        Libc.EACCES when !_allowBroadcast => $"broadcast not allowed ({address}): {BroadcastAdvice}",
        Libc.EMSGSIZE => $"datagram too large ({address})",
        _ => NetError.Describe(_net.Logger, "UDP send", _fd, errno, address),
    };

    public void Close()
    {
        // A passed socket stays open for the next bind of its address (SocketActivation.GiveBack),
        // unless the script connected it to one peer.
        if (_fd != -1 && !_connected && SocketActivation.IsAdopted(_fd))
        {
            _net.Release(_fd, _token);
            SocketActivation.GiveBack(_fd);
        }
        else if (_fd != -1)
        {
            _net.Close(_fd, _token);
        }
        _fd = -1;
        _connected = false;
        _peerError = 0;
        _localText = _peerText = null;
        _senderTexts.Clear();
        ForgetSends();
    }

    /// <summary>Joins (or leaves) a multicast group, optionally on one interface: an IPv4
    /// address for an IPv4 group, an interface name or index for an IPv6 group. Joining on an
    /// interface also makes it the one this socket sends multicast through, so that a group
    /// joined on loopback is also sent to on loopback, never through the default route.</summary>
    public string? SetMembership(IPAddress group, string? networkInterface, bool join)
    {
        if (_fd == -1)
            return "bind() first";
        return SetMembershipOnPlatform(group, networkInterface, join);
    }

    public bool MulticastLoop
    {
        get => _multicastLoop;
        set
        {
            _multicastLoop = value;
            ApplyMulticastOptions();
        }
    }

    public int MulticastTtl
    {
        get => _multicastTtl;
        set
        {
            _multicastTtl = Math.Clamp(value, 0, 255);
            ApplyMulticastOptions();
        }
    }

    private static uint ToNetworkUInt(IPAddress ip)
    {
        uint value;
        ip.TryWriteBytes(new Span<byte>(&value, 4), out _);
        return value; // bytes already in network order
    }

    private string? Open(int family, nint passed = -1)
    {
        nint fd = passed;
        if (fd == -1)
        {
            CallResult opened = SocketCalls.OpenDatagram(family);
            if (opened.Failed)
                return NetError.Describe(_net.Logger, "socket", -1, opened.Error, null);
            fd = opened.Value;
            if (family == SocketCalls.AF_INET6)
                SocketCalls.SetDualStack(fd);
        }
        if (_allowBroadcast)
            SocketCalls.SetBroadcast(fd, true);
        ReportUnreachable(fd, false);
        _token = _net.Attach(fd, this, IoEvents.Readable);
        _fd = fd;
        _family = family;
        ApplyMulticastOptions();
        return null;
    }

    private void ApplyMulticastOptions()
    {
        if (_fd == -1)
            return;
        ApplyMulticastOptionsOnPlatform();
    }

    /// <summary>The sender as text, built only the first time that sender is seen.</summary>
    private string SenderText(ref NetAddress sender)
    {
        if (_senderTexts.TryGetValue(sender, out string? text))
            return text;
        if (_senderTexts.Count >= SenderCacheLimit)
            _senderTexts.Clear();
        text = sender.ToString();
        _senderTexts.Add(sender, text);
        return text;
    }
}
