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

    [SupportedOSPlatform("windows")]
    private void PostConnectEx(NetAddress address) => Iocp.PostConnect(_fd, &address);

    /// <summary>The most one posted send carries: what queued up while the previous one was in
    /// flight goes in one operation, not one per send() call.</summary>
    private const int MaxPostedSend = 1 << 20;

    private const int MaxPostedSendWhileEnding = 64 << 10;

    /// <summary>Posts what is queued as one send, unless one is in flight already: one
    /// operation at a time per connection, its bytes gathered from the queue's chunks.</summary>
    [SupportedOSPlatform("windows")]
    private void PostQueued()
    {
        if (_fd == -1 || _phase is not (Phase.Connected or Phase.Draining) || _postedBytes > 0 || _queue.IsEmpty)
            return;
        // While ending, smaller sends: a completion is the only progress a drain sees here,
        // and a slow reader takes a long time to let 1 MiB complete.
        bool ending = _shutdownRequested || _peerClosed;
        int length = (int)Math.Min(_queue.Length, ending ? MaxPostedSendWhileEnding : MaxPostedSend);
        byte* buffer = Iocp.PrepareSend(_fd, length, out nint operation);
        for (int copied = 0; copied < length;)
        {
            _queue.TryPeek(out byte* data, out int available);
            int take = Math.Min(available, length - copied);
            Buffer.MemoryCopy(data, buffer + copied, take, take);
            _queue.Consume(take);
            copied += take;
        }
        _postedBytes = length;
        Iocp.PostSend(operation);
        PublishSendState();
    }

    /// <summary>The posted send finished: Result bytes, or a negative errno.</summary>
    [SupportedOSPlatform("windows")]
    private void OnSendCompleted(in IoEvent ev)
    {
        int result = ev.Result;
        if (result < 0)
        {
            CloseUndelivered(NetError.Describe(_net.Logger, "send", _fd, -result, _peerText ?? "?")); // the posted bytes count as lost
            return;
        }
        _postedBytes = 0;
        if (result < (int)ev.Data)
        {
            // Not seen on a stream socket; were it to happen, the rest is not resent out of
            // order: the connection ends instead of losing bytes silently.
            Close($"short send ({result} of {(int)ev.Data} bytes)");
            return;
        }
        _net.Stats.BytesSent += result;
        _lastProgress = EventLoop.Now;
        _activity++;
        PostQueued();
        if (NothingToSend)
            AllSent();
    }
}
