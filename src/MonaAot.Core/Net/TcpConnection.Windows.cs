using System;
using System.Diagnostics;
using System.Runtime.Versioning;
using MonaAot.Interop;
using MonaAot.Reactor;
using MonaAot.Reactor.Iocp;

namespace MonaAot.Net;

/// <summary>
/// The Windows half of a connection: connects with ConnectEx, and hands what the kernel did not
/// take at once to the completion port instead of waiting for writability, which IOCP cannot
/// report (both posted through <see cref="IocpSocketOperations"/>). Each posted send owns a
/// copy of its bytes, so closing the connection while sends are in flight frees nothing the
/// kernel still reads. Reads are the same as on Linux.
/// </summary>
public sealed unsafe partial class TcpConnection
{
    [SupportedOSPlatform("windows")]
    private IocpBackend Iocp => _net.Loop.Iocp;

    // Direct writes (DirectWriteGate) stay shut here: every send takes the C# path, and so
    // the completion port's posted sends.
    private static partial bool DirectWrites => false;

    // The bytes of the send posted to the completion port and not completed yet, at most one
    // send at a time.
    private long _postedBytes;

    private partial long PostedBytes => _postedBytes;

    // ConnectEx, posted once the socket is attached; its outcome comes to OnIo.
    private partial bool BeginConnect(nint fd, NetAddress address)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        if (!BeginAttempt(fd, address, IoEvents.None))
            return false;
        IocpSocketOperations.PostConnect(Iocp, _fd, &address);
        return true;
    }

    // The IOCP backend reports ConnectEx's completion with the outcome in Result.
    private partial int ConnectOutcome(in IoEvent ev) => -ev.Result;

    partial void OnAppendedBehind()
    {
        Debug.Assert(TargetPlatform.IsWindows);
        if (_phase == Phase.Connected)
            PostQueued();
    }

    private partial void SendRestLater()
    {
        Debug.Assert(TargetPlatform.IsWindows);
        PostQueued();
    }

    private partial void FlushQueue()
    {
        Debug.Assert(TargetPlatform.IsWindows);
        PostQueued();
    }

    // A posted send still in flight belongs to the closed socket.
    partial void ForgetPostedSend() => _postedBytes = 0;

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
        byte* buffer = IocpSocketOperations.PrepareSend(Iocp, _fd, length, out IocpOperation* operation);
        for (int copied = 0; copied < length;)
        {
            _queue.TryPeek(out byte* data, out int available);
            int take = Math.Min(available, length - copied);
            Buffer.MemoryCopy(data, buffer + copied, take, take);
            _queue.Consume(take);
            copied += take;
        }
        _postedBytes = length;
        IocpSocketOperations.PostSend(Iocp, operation);
        PublishGate();
    }

    /// <summary>The posted send finished: Result bytes, or a negative errno.</summary>
    partial void OnSendCompleted(in IoEvent ev)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        int result = ev.Result;
        if (result < 0)
        {
            CloseUndelivered(NetError.Describe(_net.Logger, "send", _fd, -result, PeerText ?? "?")); // the posted bytes count as lost
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
