using System;
using System.Runtime.Versioning;
using MonaAot.Reactor;
using MonaAot.Reactor.Iocp;

namespace MonaAot.Net;

/// <summary>
/// The Windows half of a connection: connects with ConnectEx, and hands what the kernel did not
/// take at once to the completion port instead of waiting for writability, which IOCP cannot
/// report. Each posted send owns a copy of its bytes, so closing the connection while sends are
/// in flight frees nothing the kernel still reads. Reads are the same as on Linux.
/// </summary>
public sealed unsafe partial class TcpConnection
{
    [SupportedOSPlatform("windows")]
    private IocpBackend Iocp => (IocpBackend)_net.Loop.Backend;

    /// <summary>Attaches the new socket and posts its ConnectEx; the outcome comes to OnIo.</summary>
    [SupportedOSPlatform("windows")]
    private void StartConnectEx(nint fd, NetAddress address)
    {
        _fd = fd;
        _phase = Phase.Connecting;
        _attempt = address.ToString();
        _interest = IoEvents.None;
        _token = _net.Attach(fd, this, IoEvents.None);
        _timer = _net.Loop.Schedule(_net.Limits.ConnectTimeoutMs, 0, TimeOutAttempt);
        Iocp.PostConnect(fd, &address);
    }

    /// <summary>Moves everything queued into posted sends, one per queue chunk (the port keeps
    /// a socket's sends in the order they were posted).</summary>
    [SupportedOSPlatform("windows")]
    private void PostQueued()
    {
        if (_fd == -1 || _phase is not (Phase.Connected or Phase.Draining))
            return;
        while (_queue.TryPeek(out byte* data, out int length))
        {
            Iocp.PostSend(_fd, new ReadOnlySpan<byte>(data, length));
            _sendsInFlight++;
            _inFlightBytes += length;
            _queue.Consume(length);
        }
        PublishSendState();
    }

    /// <summary>A posted send finished: <paramref name="result"/> bytes, or a negative errno.</summary>
    [SupportedOSPlatform("windows")]
    private void OnSendCompleted(int result)
    {
        _sendsInFlight--;
        if (result < 0)
        {
            Close(NetError.Describe(-result, _peerText ?? "?"));
            return;
        }
        _inFlightBytes -= result;
        _net.Stats.BytesSent += result;
        _flushedSinceTick += result;
        _activity++;
        PostQueued();
        if (NothingToSend)
            AllSent();
    }
}
