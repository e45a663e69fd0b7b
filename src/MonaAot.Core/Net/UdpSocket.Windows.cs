using System;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using MonaAot.Interop;
using MonaAot.Reactor;
using MonaAot.Reactor.Iocp;

namespace MonaAot.Net;

/// <summary>
/// The Windows half of a UDP socket: one recvfrom per datagram (Winsock has no recvmmsg) into
/// the shared read buffer when the port reports the socket readable, and sendto straight to the
/// kernel; a datagram the kernel has no room for is posted to the completion port with its own
/// copy, within the same send-queue limit. Multicast uses Winsock's option numbers and layouts.
/// </summary>
public sealed unsafe partial class UdpSocket
{
    private const int DatagramsPerEvent = 64;
    private long _postedBytes;
    // The backend stopped watching for reads: the socket was not bound yet (a failed connect
    // left it so). The send that binds it asks again.
    private bool _readsStopped;

    [SupportedOSPlatform("windows")]
    private IocpBackend Iocp => _net.Loop.Iocp;

    private partial long QueuedBytes => _postedBytes;

    public void OnIo(in IoEvent ev)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        OnIoWindows(in ev);
    }

    private partial string? SendNow(ReadOnlySpan<byte> data, NetAddress* target, NetAddress* recipient)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        return SendOrPost(data, target, recipient);
    }

    partial void ReportUnreachable(nint fd, bool report)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        SetUnreachableReports(fd, report);
    }

    private partial string? SetMembershipOnPlatform(IPAddress group, string? networkInterface, bool join)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        return SetMembershipWindows(group, networkInterface, join);
    }

    private partial void ApplyMulticastOptionsOnPlatform()
    {
        Debug.Assert(TargetPlatform.IsWindows);
        ApplyMulticastOptionsWindows();
    }

    private partial void ForgetSends()
    {
        _postedBytes = 0; // what is still posted belongs to the closed socket
        _readsStopped = false;
    }

    /// <summary>Whether the socket's receives report an ICMP port unreachable (as a reset). Off
    /// when opened: a connectionless socket must not fail its next receive because an earlier
    /// datagram to anyone drew one (Windows' default). On once connected, so that the peer's
    /// unreachability reaches the next send, as on Linux, which reports it only on a connected
    /// socket.</summary>
    [SupportedOSPlatform("windows")]
    private static void SetUnreachableReports(nint fd, bool report)
    {
        int value = report ? 1 : 0;
        uint returned;
        Winsock.WSAIoctl(fd, Winsock.SIO_UDP_CONNRESET, &value, sizeof(int), null, 0, &returned, null, null);
    }

    [SupportedOSPlatform("windows")]
    private string? SendOrPost(ReadOnlySpan<byte> data, NetAddress* target, NetAddress* recipient)
    {
        int errno = Libc.EAGAIN;
        if (_postedBytes == 0) // else after the posted ones, in order, as on Linux
        {
            CallResult n;
            fixed (byte* p = data)
                n = SocketCalls.Mapped(Winsock.Checked(target == null
                    ? Winsock.send(_fd, p, data.Length, 0)
                    : Winsock.sendto(_fd, p, data.Length, 0, target, (int)target->Length)));
            if (!n.Failed)
            {
                _net.Stats.BytesSent += n.Value;
                if (_readsStopped)
                {
                    _readsStopped = false;
                    _net.Change(_fd, _token, IoEvents.Readable);
                }
                return null;
            }
            errno = n.Error;
        }
        if (errno != Libc.EAGAIN)
            return Failure(errno, recipient);
        if (_postedBytes + data.Length > _net.Limits.MaxQueuedBytes)
        {
            _net.Stats.UdpErrors++;
            return $"send queue full ({_net.Limits.MaxQueuedBytes} bytes queued): datagram dropped";
        }
        IocpSocketOperations.PostSendTo(Iocp, _fd, data, target);
        _postedBytes += data.Length;
        return null;
    }

    [SupportedOSPlatform("windows")]
    private void OnIoWindows(in IoEvent ev)
    {
        if ((ev.Events & IoEvents.Completed) != 0)
        {
            // A posted datagram went (Result: its size) or could not (a negative errno); send()
            // returned long ago, so a failure is only logged, as on Linux.
            if (ev.Result < 0)
            {
                NotePeerError(-ev.Result);
                _net.Stats.UdpErrors++;
                _net.Logger.Debug($"UDP datagram dropped: {Describe(-ev.Result, "")}");
            }
            else
                _net.Stats.BytesSent += ev.Result;
            _postedBytes -= ev.Data; // the length posted, sent or not
            return;
        }
        if (ev.Result == -Libc.EINVAL)
        {
            _readsStopped = true;
            return;
        }
        if (ev.Result < 0)
            NotePeerError(-ev.Result); // the zero-byte read met the peer's unreachable report
        for (int i = 0; i < DatagramsPerEvent && _fd != -1; i++)
        {
            NetAddress sender;
            int length = sizeof(NetAddress);
            CallResult received = SocketCalls.Mapped(Winsock.Checked(
                Winsock.recvfrom(_fd, _net.ReadBuffer, NetContext.ReadBufferSize, 0, &sender, &length)));
            if (received.Failed)
            {
                if (received.Error is Libc.EAGAIN)
                    return;
                NotePeerError(received.Error);
                continue; // one datagram's trouble (too large, an unreachable report)
            }
            int n = (int)received.Value;
            _net.Stats.BytesReceived += n;
            _events.OnDatagram(this, new ReadOnlySpan<byte>(_net.ReadBuffer, n), SenderText(ref sender));
        }
    }

    [SupportedOSPlatform("windows")]
    private string? SetMembershipWindows(IPAddress group, string? networkInterface, bool join)
    {
        CallResult result;
        if (group.AddressFamily == AddressFamily.InterNetwork)
        {
            var request = new Winsock.ip_mreq { imr_multiaddr = ToNetworkUInt(group) };
            if (networkInterface is not null)
            {
                if (!IPAddress.TryParse(networkInterface, out IPAddress? local) || local.AddressFamily != AddressFamily.InterNetwork)
                    return $"invalid interface {AddressText.Quote(networkInterface)} (an IPv4 address for an IPv4 group)";
                request.imr_interface = ToNetworkUInt(local);
            }
            result = Winsock.Checked(Winsock.setsockopt(_fd, Winsock.IPPROTO_IP, join ? Winsock.IP_ADD_MEMBERSHIP : Winsock.IP_DROP_MEMBERSHIP,
                &request, sizeof(Winsock.ip_mreq)));
            if (!result.Failed && join && networkInterface is not null)
            {
                uint address = request.imr_interface;
                result = Winsock.Checked(Winsock.setsockopt(_fd, Winsock.IPPROTO_IP, Winsock.IP_MULTICAST_IF, &address, sizeof(uint)));
            }
        }
        else
        {
            if (_family != SocketCalls.AF_INET6)
                return "an IPv6 group needs a socket bound to an IPv6 address";
            var request = new Libc.ipv6_mreq(); // the same layout on Windows
            group.TryWriteBytes(new Span<byte>(request.ipv6mr_multiaddr, 16), out _);
            if (networkInterface is not null)
            {
                request.ipv6mr_interface = uint.TryParse(networkInterface, out uint index) ? index : Winsock.if_nametoindex(networkInterface);
                if (request.ipv6mr_interface == 0)
                    return $"unknown interface {AddressText.Quote(networkInterface)}";
            }
            result = Winsock.Checked(Winsock.setsockopt(_fd, Winsock.IPPROTO_IPV6, join ? Winsock.IPV6_ADD_MEMBERSHIP : Winsock.IPV6_DROP_MEMBERSHIP,
                &request, sizeof(Libc.ipv6_mreq)));
            if (!result.Failed && join && networkInterface is not null)
                result = Winsock.Checked(Winsock.SetIntOption(_fd, Winsock.IPPROTO_IPV6, Winsock.IPV6_MULTICAST_IF, (int)request.ipv6mr_interface));
        }
        result = SocketCalls.Mapped(result);
        return result.Failed ? NetError.Describe(_net.Logger, "multicast membership", _fd, result.Error, group.ToString()) : null;
    }

    [SupportedOSPlatform("windows")]
    private void ApplyMulticastOptionsWindows()
    {
        Winsock.SetIntOption(_fd, Winsock.IPPROTO_IP, Winsock.IP_MULTICAST_LOOP, _multicastLoop ? 1 : 0);
        Winsock.SetIntOption(_fd, Winsock.IPPROTO_IP, Winsock.IP_MULTICAST_TTL, _multicastTtl);
        if (_family == SocketCalls.AF_INET6)
        {
            Winsock.SetIntOption(_fd, Winsock.IPPROTO_IPV6, Winsock.IPV6_MULTICAST_LOOP, _multicastLoop ? 1 : 0);
            Winsock.SetIntOption(_fd, Winsock.IPPROTO_IPV6, Winsock.IPV6_MULTICAST_HOPS, _multicastTtl);
        }
    }
}
