using System.Diagnostics;
using System.Runtime.Versioning;
using MonaAot.Interop;
using MonaAot.Reactor;

namespace MonaAot.Net;

/// <summary>
/// The Unix half of a listener: the listening socket is watched for readability, and each
/// readiness event takes what is waiting with accept4, a bounded number at a time. When
/// accepting pauses, the socket is not watched until the retry (level-triggered epoll would
/// report the pending connection again at once).
/// </summary>
public sealed unsafe partial class TcpListener
{
    private const int AcceptsPerEvent = 64;

    private const IoEvents AcceptInterest = IoEvents.Readable;

    private partial void StartAccepting()
    {
        // Nothing to do: the first readiness event accepts.
    }

    public void OnIo(in IoEvent ev)
    {
        Debug.Assert(TargetPlatform.IsUnix);
        AcceptPending();
    }

    [UnsupportedOSPlatform("windows")]
    private void AcceptPending()
    {
        for (int i = 0; i < AcceptsPerEvent && _fd != -1; i++)
        {
            NetAddress peer = default; // zeroed as getpeername's is (NetAddress.OfSocket)
            uint size = (uint)sizeof(NetAddress);
            CallResult accepted = Libc.Checked(Libc.accept4((int)_fd, &peer, &size, Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC));
            if (!accepted.Failed)
            {
                _net.AcceptedFd = accepted.Value;
                _net.AcceptedPeer = peer;
                SocketCalls.SetNoDelay(accepted.Value);
                _events.OnAccepted(accepted.Value);
                continue;
            }
            int errno = accepted.Error;
            if (errno is Libc.EINTR or Libc.ECONNABORTED)
                continue;
            if (errno is Libc.EMFILE or Libc.ENFILE or Libc.ENOBUFS or Libc.ENOMEM)
                PauseAccepting(errno);
            else if (errno != Libc.EAGAIN && NetError.Classify(errno) == NetErrorKind.Bug)
                NetError.Describe(_net.Logger, "accept", _fd, errno, null); // logged; the listener goes on
            return; // EAGAIN: nothing more waiting
        }
    }

    private partial void RetryLater()
    {
        Debug.Assert(TargetPlatform.IsUnix);
        _net.Change(_fd, _token, IoEvents.None);
        _retry = _net.Loop.Schedule(ExhaustedRetryMs, 0, () =>
        {
            Debug.Assert(TargetPlatform.IsUnix);
            if (_fd == -1)
                return;
            _net.Change(_fd, _token, IoEvents.Readable);
            AcceptPending();
        });
    }
}
