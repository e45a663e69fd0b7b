using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using MonaAot.Interop;
using MonaAot.Reactor;

namespace MonaAot.Net;

/// <summary>What a UDP socket reports to its owner (the Lua UDPSocket). Loop thread.</summary>
public interface IUdpSocketEvents
{
    /// <summary>One datagram. <paramref name="from"/> is the sender's "ip:port"; the same string
    /// instance as last time when the sender is the same.</summary>
    void OnDatagram(UdpSocket socket, ReadOnlySpan<byte> data, string from);
}

/// <summary>
/// A UDP socket on the reactor (docs/api.md, "UDPSocket"). Receives up to <see
/// cref="UdpBatch.Count"/> datagrams per system call (recvmmsg) into the context's shared batch
/// buffers. Replies sent by the handlers of one such batch are gathered and leave together at its
/// end, many per call (sendmmsg), as a batching C server does; other sends go straight to the
/// kernel. What the kernel has no room for is queued in native memory and sent when it has. The
/// socket is created by bind, connect or the first send (which takes an ephemeral port, as the OS
/// does), and close() makes the object reusable.
/// </summary>
public sealed unsafe partial class UdpSocket : IIoHandler
{
    /// <summary>The largest UDP payload over IPv4 (65,535 - 20 - 8); applied to IPv6 too.</summary>
    public const int MaxDatagram = 65_507;

    private struct Pending
    {
        public byte* Data;
        public bool OwnsData; // NativeMemory.Alloc'd, else in the gather arena
        public int Length;
        public bool HasRecipient;
        public NetAddress Recipient;
    }

    private readonly NetContext _net;
    private readonly IUdpSocketEvents _events;
    private readonly bool _allowBroadcast;
    /// <summary>Replies up to this size, sent while a received batch is being handled, wait for
    /// the end of the batch (one sendmmsg for all); larger ones go at once.</summary>
    public const int GatherLimit = 2048;

    // Enough for the peers of a busy socket; past it the cache starts again (bounded memory).
    private const int SenderCacheLimit = 1024;

    private readonly List<Pending> _pending = new();
    private long _pendingBytes;
    private bool _handlingBatch;
    // Gathered replies are copied here, one after the other, instead of one allocation each;
    // the arena is reused once everything in it has been sent.
    private const int ArenaSize = 64 * 1024;
    private byte* _arena;
    private int _arenaUsed;
    private bool _watchingWrites;
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

    public bool IsOpen => _fd != -1;

    /// <summary>Bytes of datagrams accepted by <see cref="Send"/> and not handed to the kernel
    /// yet (queued, or posted and not completed on Windows).</summary>
    public long Queued => _pendingBytes + _postedBytes;

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
        if (Open(address.Family) is { } openError)
            return openError;
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
        if (OperatingSystem.IsWindows())
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
        if (OperatingSystem.IsWindows())
            return SendOrPost(data, recipient != null ? &target : null, recipient);
        if (_pending.Count > 0 || (_handlingBatch && data.Length <= GatherLimit))
            return Enqueue(data, recipient != null, target);
        CallResult n;
        fixed (byte* p = data)
            n = Libc.Checked(recipient == null
                ? Libc.send((int)_fd, p, (nuint)data.Length, Libc.MSG_NOSIGNAL)
                : Libc.sendto((int)_fd, p, (nuint)data.Length, Libc.MSG_NOSIGNAL, &target, target.Length));
        if (!n.Failed)
        {
            _net.Stats.BytesSent += n.Value;
            return null;
        }
        int errno = n.Error;
        if (errno == Libc.EAGAIN)
            return Enqueue(data, recipient != null, target);
        return Failure(errno, recipient);
    }

    /// <summary>Why a send failed, noting whether the peer is unreachable.</summary>
    private string Failure(int errno, NetAddress* recipient)
    {
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
        Libc.EACCES when !_allowBroadcast => $"broadcast not allowed ({address}): create the socket with mona:createUDPSocket(true)",
        Libc.EMSGSIZE => $"datagram too large ({address})",
        _ => NetError.Describe(_net.Logger, "UDP send", _fd, errno, address),
    };

    public void Close()
    {
        if (_fd != -1)
            _net.Close(_fd, _token);
        _fd = -1;
        _connected = false;
        _peerError = 0;
        _localText = _peerText = null;
        _senderTexts.Clear();
        _watchingWrites = false;
        _postedBytes = 0; // what is still posted belongs to the closed socket
        _readsStopped = false;
        DropPending(_pending.Count);
        if (_arena != null)
            NativeMemory.Free(_arena);
        _arena = null;
    }

    public void OnIo(in IoEvent ev)
    {
        if (OperatingSystem.IsWindows())
        {
            OnIoWindows(in ev);
            return;
        }
        if ((ev.Events & IoEvents.Writable) != 0 && _pending.Count > 0)
            FlushPending();
        if ((ev.Events & (IoEvents.Readable | IoEvents.Error)) != 0)
            Receive();
    }

    /// <summary>Joins (or leaves) a multicast group, optionally on one interface: an IPv4
    /// address for an IPv4 group, an interface name or index for an IPv6 group. Joining on an
    /// interface also makes it the one this socket sends multicast through, so that a group
    /// joined on loopback is also sent to on loopback, never through the default route.</summary>
    public string? SetMembership(IPAddress group, string? networkInterface, bool join)
    {
        if (_fd == -1)
            return "bind() first";
        if (OperatingSystem.IsWindows())
            return SetMembershipWindows(group, networkInterface, join);
        CallResult result;
        if (group.AddressFamily == AddressFamily.InterNetwork)
        {
            var request = new Libc.ip_mreqn { imr_multiaddr = ToNetworkUInt(group) };
            if (networkInterface is not null)
            {
                if (!IPAddress.TryParse(networkInterface, out IPAddress? local) || local.AddressFamily != AddressFamily.InterNetwork)
                    return $"invalid interface {AddressText.Quote(networkInterface)} (an IPv4 address for an IPv4 group)";
                request.imr_address = ToNetworkUInt(local);
            }
            result = Libc.Checked(Libc.setsockopt((int)_fd, Libc.IPPROTO_IP, join ? Libc.IP_ADD_MEMBERSHIP : Libc.IP_DROP_MEMBERSHIP, &request, (uint)sizeof(Libc.ip_mreqn)));
            if (!result.Failed && join && networkInterface is not null)
                result = Libc.Checked(Libc.setsockopt((int)_fd, Libc.IPPROTO_IP, Libc.IP_MULTICAST_IF, &request, (uint)sizeof(Libc.ip_mreqn)));
        }
        else
        {
            if (_family != SocketCalls.AF_INET6)
                return "an IPv6 group needs a socket bound to an IPv6 address";
            var request = new Libc.ipv6_mreq();
            group.TryWriteBytes(new Span<byte>(request.ipv6mr_multiaddr, 16), out _);
            if (networkInterface is not null)
            {
                request.ipv6mr_interface = uint.TryParse(networkInterface, out uint index) ? index : Libc.if_nametoindex(networkInterface);
                if (request.ipv6mr_interface == 0)
                    return $"unknown interface {AddressText.Quote(networkInterface)}";
            }
            result = Libc.Checked(Libc.setsockopt((int)_fd, Libc.IPPROTO_IPV6, join ? Libc.IPV6_ADD_MEMBERSHIP : Libc.IPV6_DROP_MEMBERSHIP, &request, (uint)sizeof(Libc.ipv6_mreq)));
            if (!result.Failed && join && networkInterface is not null)
                result = Libc.Checked(Libc.SetIntOption((int)_fd, Libc.IPPROTO_IPV6, Libc.IPV6_MULTICAST_IF, (int)request.ipv6mr_interface));
        }
        return result.Failed ? NetError.Describe(_net.Logger, "multicast membership", _fd, result.Error, group.ToString()) : null;
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

    private string? Open(int family)
    {
        CallResult opened = SocketCalls.OpenDatagram(family);
        if (opened.Failed)
            return NetError.Describe(_net.Logger, "socket", -1, opened.Error, null);
        nint fd = opened.Value;
        if (family == SocketCalls.AF_INET6)
            SocketCalls.SetDualStack(fd);
        if (_allowBroadcast)
            SocketCalls.SetBroadcast(fd, true);
        if (OperatingSystem.IsWindows())
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
        if (OperatingSystem.IsWindows())
        {
            ApplyMulticastOptionsWindows();
            return;
        }
        // A dual-stack socket sends IPv4 multicast too: set both levels, the IPv4 one always.
        Libc.SetIntOption((int)_fd, Libc.IPPROTO_IP, Libc.IP_MULTICAST_LOOP, _multicastLoop ? 1 : 0);
        Libc.SetIntOption((int)_fd, Libc.IPPROTO_IP, Libc.IP_MULTICAST_TTL, _multicastTtl);
        if (_family == SocketCalls.AF_INET6)
        {
            Libc.SetIntOption((int)_fd, Libc.IPPROTO_IPV6, Libc.IPV6_MULTICAST_LOOP, _multicastLoop ? 1 : 0);
            Libc.SetIntOption((int)_fd, Libc.IPPROTO_IPV6, Libc.IPV6_MULTICAST_HOPS, _multicastTtl);
        }
    }

    [UnsupportedOSPlatform("windows")]
    private void Receive()
    {
        // A few batches per readiness event, so one busy socket cannot starve the others.
        for (int round = 0; round < 4 && _fd != -1; round++)
        {
            int n = ReceiveBatch();
            if (_pending.Count > 0 && _fd != -1)
                FlushPending(); // the batch's replies, together
            if (n < UdpBatch.Count)
                return;
        }
    }

    /// <summary>One recvmmsg and a handler call per datagram; returns how many came.</summary>
    [UnsupportedOSPlatform("windows")] // recvmmsg: Linux; Windows: one recvfrom each (.Windows.cs)
    private int ReceiveBatch()
    {
        UdpBatch batch = _net.UdpBatch;
        batch.Reset();
        CallResult received = Libc.Checked(Libc.recvmmsg((int)_fd, batch.Headers, UdpBatch.Count, 0, null));
        if (received.Failed)
            NotePeerError(received.Error); // EAGAIN, or an ICMP error reported on a connected socket
        int n = (int)received.Value;
        if (n <= 0)
            return 0;
        _handlingBatch = true;
        try
        {
            for (int i = 0; i < n && _fd != -1; i++)
            {
                int length = (int)batch.Headers[i].msg_len;
                _net.Stats.BytesReceived += length;
                _events.OnDatagram(this, new ReadOnlySpan<byte>(batch.Slot(i), length), SenderText(ref batch.Senders[i]));
            }
        }
        finally
        {
            _handlingBatch = false;
        }
        return n;
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

    private string? Enqueue(ReadOnlySpan<byte> data, bool hasRecipient, NetAddress recipient)
    {
        if (_pendingBytes + data.Length > _net.Limits.MaxQueuedBytes)
            return $"send queue full ({_net.Limits.MaxQueuedBytes} bytes queued): datagram dropped";
        byte* copy;
        bool owns = !_handlingBatch || _arenaUsed + data.Length > ArenaSize;
        if (owns)
        {
            copy = (byte*)NativeMemory.Alloc((nuint)Math.Max(1, data.Length));
        }
        else
        {
            if (_arena == null)
                _arena = (byte*)NativeMemory.Alloc(ArenaSize);
            copy = _arena + _arenaUsed;
            _arenaUsed += data.Length;
        }
        data.CopyTo(new Span<byte>(copy, data.Length));
        _pending.Add(new Pending { Data = copy, OwnsData = owns, Length = data.Length, HasRecipient = hasRecipient, Recipient = recipient });
        _pendingBytes += data.Length;
        if (!_handlingBatch)
            WatchWrites(true); // a batch's replies are flushed at its end instead
        return null;
    }

    /// <summary>Sends queued datagrams, up to <see cref="UdpBatch.Count"/> per sendmmsg.</summary>
    [UnsupportedOSPlatform("windows")] // sendmmsg: Linux; Windows: sendto, else posted WSASendTo
    private void FlushPending()
    {
        UdpBatch batch = _net.UdpBatch;
        while (_pending.Count > 0)
        {
            int count = Math.Min(_pending.Count, UdpBatch.Count);
            for (int i = 0; i < count; i++)
                batch.PrepareSend(i, _pending[i].Data, _pending[i].Length, _pending[i].HasRecipient ? ToPointer(i) : null);
            CallResult result = Libc.Checked(Libc.sendmmsg((int)_fd, batch.Headers, (uint)count, Libc.MSG_NOSIGNAL));
            int sent = (int)result.Value;
            if (sent <= 0)
            {
                int errno = result.Failed ? result.Error : Libc.EAGAIN;
                if (errno == Libc.EAGAIN)
                {
                    WatchWrites(true); // the rest when the kernel has room
                    return;
                }
                // This datagram cannot go (e.g. unreachable); send() returned long ago, so say
                // it here, and with the next send when it is about the connected peer. The next
                // ones may go.
                NotePeerError(errno);
                _net.Logger.Debug($"UDP datagram to {(_pending[0].HasRecipient ? _pending[0].Recipient.ToString() : _peerText)} dropped: {Describe(errno, "")}");
                DropPending(1);
                continue;
            }
            for (int i = 0; i < sent; i++)
                _net.Stats.BytesSent += _pending[i].Length;
            DropPending(sent);
        }
        WatchWrites(false);
    }

    private void WatchWrites(bool watch)
    {
        if (watch == _watchingWrites || _fd == -1)
            return;
        _watchingWrites = watch;
        _net.Change(_fd, _token, watch ? IoEvents.Readable | IoEvents.Writable : IoEvents.Readable);
    }

    private NetAddress* ToPointer(int index)
    {
        Pending pending = _pending[index];
        _net.UdpBatch.Recipients[index] = pending.Recipient;
        return &_net.UdpBatch.Recipients[index];
    }

    private void DropPending(int count)
    {
        for (int i = 0; i < count; i++)
        {
            _pendingBytes -= _pending[i].Length;
            if (_pending[i].OwnsData)
                NativeMemory.Free(_pending[i].Data);
        }
        _pending.RemoveRange(0, count);
        if (_pending.Count == 0)
            _arenaUsed = 0;
    }
}
