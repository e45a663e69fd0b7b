using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using MonaAot.Interop;
using MonaAot.Reactor;

namespace MonaAot.Net;

/// <summary>
/// The Unix half of a UDP socket: up to <see cref="UdpBatch.Count"/> datagrams per recvmmsg on
/// readiness; replies sent while a received batch is handled are gathered and leave together at
/// its end by sendmmsg, and what the kernel has no room for is queued in native memory and sent
/// when the socket is writable. Multicast uses Linux's option numbers and layouts.
/// </summary>
public sealed unsafe partial class UdpSocket
{
    private struct Pending
    {
        public byte* Data;
        public bool OwnsData; // NativeMemory.Alloc'd, else in the gather arena
        public int Length;
        public bool HasRecipient;
        public NetAddress Recipient;
    }

    private readonly List<Pending> _pending = new();
    private long _pendingBytes;
    private bool _handlingBatch;
    // Gathered replies are copied here, one after the other, instead of one allocation each;
    // the arena is reused once everything in it has been sent. Room for a whole batch's replies
    // of up to GatherLimit bytes each (128 KiB with 64 datagrams a batch): at 64 KiB, replies
    // over 1 KiB past the 32nd of a batch each went to NativeMemory.Alloc. Only what is used
    // is touched.
    private const int ArenaSize = UdpBatch.Count * GatherLimit;
    private byte* _arena;
    private int _arenaUsed;
    private bool _watchingWrites;

    private partial long QueuedBytes => _pendingBytes;

    public void OnIo(in IoEvent ev)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        if ((ev.Events & IoEvents.Writable) != 0 && _pending.Count > 0)
            FlushPending();
        if ((ev.Events & (IoEvents.Readable | IoEvents.Error)) != 0)
            Receive();
    }

    private partial string? SendNow(ReadOnlySpan<byte> data, NetAddress* target, NetAddress* recipient)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        if (_pending.Count > 0 || (_handlingBatch && data.Length <= GatherLimit))
            return Enqueue(data, target != null, target != null ? *target : default);
        CallResult n;
        fixed (byte* p = data)
            n = Libc.Checked(target == null
                ? Libc.send((int)_fd, p, (nuint)data.Length, Libc.MSG_NOSIGNAL)
                : Libc.sendto((int)_fd, p, (nuint)data.Length, Libc.MSG_NOSIGNAL, target, target->Length));
        if (!n.Failed)
        {
            _net.Stats.BytesSent += n.Value;
            return null;
        }
        int errno = n.Error;
        if (errno == Libc.EAGAIN)
            return Enqueue(data, target != null, target != null ? *target : default);
        return Failure(errno, recipient);
    }

    private partial string? SetMembershipOnPlatform(IPAddress group, string? networkInterface, bool join)
    {
        Debug.Assert(TargetPlatform.IsUnix);
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

    private partial void ApplyMulticastOptionsOnPlatform()
    {
        Debug.Assert(TargetPlatform.IsUnix);
        // A dual-stack socket sends IPv4 multicast too: set both levels, the IPv4 one always.
        Libc.SetIntOption((int)_fd, Libc.IPPROTO_IP, Libc.IP_MULTICAST_LOOP, _multicastLoop ? 1 : 0);
        Libc.SetIntOption((int)_fd, Libc.IPPROTO_IP, Libc.IP_MULTICAST_TTL, _multicastTtl);
        if (_family == SocketCalls.AF_INET6)
        {
            Libc.SetIntOption((int)_fd, Libc.IPPROTO_IPV6, Libc.IPV6_MULTICAST_LOOP, _multicastLoop ? 1 : 0);
            Libc.SetIntOption((int)_fd, Libc.IPPROTO_IPV6, Libc.IPV6_MULTICAST_HOPS, _multicastTtl);
        }
    }

    private partial void ForgetSends()
    {
        _watchingWrites = false;
        DropPending(_pending.Count);
        if (_arena != null)
            NativeMemory.Free(_arena);
        _arena = null;
    }

    [UnsupportedOSPlatform("windows")]
    private void Receive()
    {
        // One batch (up to UdpBatch.Count datagrams) per readiness event, so one busy socket
        // cannot starve the others; epoll is level-triggered, so the rest comes next turn.
        if (_fd == -1)
            return;
        ReceiveBatch();
        if (_pending.Count > 0 && _fd != -1)
            FlushPending(); // the batch's replies, together
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

    private string? Enqueue(ReadOnlySpan<byte> data, bool hasRecipient, NetAddress recipient)
    {
        if (_pendingBytes + data.Length > _net.Limits.MaxQueuedBytes)
        {
            _net.Stats.UdpErrors++;
            return $"send queue full ({_net.Limits.MaxQueuedBytes} bytes queued): datagram dropped";
        }
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
                _net.Stats.UdpErrors++;
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
