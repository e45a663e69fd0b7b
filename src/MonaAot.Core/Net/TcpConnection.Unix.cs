using System.Diagnostics;
using MonaAot.Interop;
using MonaAot.Reactor;

namespace MonaAot.Net;

/// <summary>
/// The Unix half of a connection: a non-blocking connect whose end epoll reports as
/// writability (the outcome in SO_ERROR), and what the kernel does not take at once waits in
/// the queue until the socket is writable again. Direct writes from outside C#
/// (<see cref="DirectWriteGate"/>) go to the descriptor, so they are allowed here.
/// </summary>
public sealed unsafe partial class TcpConnection
{
    private static partial bool DirectWrites => true;

    // Nothing is ever handed over beyond the queue: what the kernel does not take waits there.
    private partial long PostedBytes => 0;

    private partial bool BeginConnect(nint fd, NetAddress address)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        CallResult connect = SocketCalls.Connect(fd, &address);
        int errno = connect.Error;
        if (!connect.Failed || errno == Libc.EINPROGRESS)
            return BeginAttempt(fd, address, IoEvents.Writable); // epoll says writable when done
        SocketCalls.Close(fd);
        _lastConnectError = NetError.Describe(_net.Logger, "connect", fd, errno, address.ToString());
        return false;
    }

    // A finished connect is reported as writable, with the outcome in SO_ERROR.
    private partial int ConnectOutcome(in IoEvent ev) => SocketCalls.PendingError(_fd);

    // The queue waits for writability (UpdateInterest watches for it while it is not empty).
    private partial void SendRestLater() => UpdateInterest();

    private partial void FlushQueue()
    {
        long sent = _queue.Flush(_fd);
        if (sent < 0)
        {
            CloseUndelivered(NetError.Describe(_net.Logger, "send", _fd, (int)-sent, PeerText ?? "?"));
            return;
        }
        _net.Stats.BytesSent += sent;
        if (sent > 0)
        {
            _activity++;
            _lastProgress = EventLoop.Now;
        }
        if (_plain != null && !PumpPlaintext())
            return; // closed
        UpdateInterest();
        PublishGate();
        if (NothingToSend)
            AllSent();
    }
}
