using System.Diagnostics;
using System.Runtime.Versioning;
using MonaAot.Interop;
using MonaAot.Reactor;
using MonaAot.Reactor.Iocp;

namespace MonaAot.Net;

/// <summary>
/// The Windows half of a listener: a few AcceptEx operations are kept posted, each with its
/// socket made in advance, so connections arriving together are taken without waiting for a
/// turn of the loop each. When no socket can be made (descriptor exhaustion), accepting pauses
/// and retries as on Linux.
/// </summary>
public sealed unsafe partial class TcpListener
{
    private const int AcceptsPosted = 8;
    private int _acceptsInFlight;
    private int _acceptFailures; // in a row

    // Nothing to watch: completions of the posted AcceptEx operations come on their own.
    private const IoEvents AcceptInterest = IoEvents.None;

    private partial void StartAccepting()
    {
        Debug.Assert(TargetPlatform.IsWindows);
        PostAccepts();
    }

    public void OnIo(in IoEvent ev)
    {
        Debug.Assert(TargetPlatform.IsWindows);
        OnAcceptCompleted(in ev);
    }

    private partial void RetryLater()
    {
        Debug.Assert(TargetPlatform.IsWindows);
        _retry = _net.Loop.Schedule(ExhaustedRetryMs, 0, () =>
        {
            Debug.Assert(TargetPlatform.IsWindows);
            if (_fd != -1)
                PostAccepts();
        });
    }

    [SupportedOSPlatform("windows")]
    private void PostAccepts()
    {
        IocpBackend iocp = _net.Loop.Iocp;
        while (_acceptsInFlight < AcceptsPosted)
        {
            int errno = IocpSocketOperations.PostAccept(iocp, _fd, _family);
            if (errno != 0)
            {
                PauseAccepting(errno);
                return;
            }
            _acceptsInFlight++;
        }
    }

    [SupportedOSPlatform("windows")]
    private void OnAcceptCompleted(in IoEvent ev)
    {
        _acceptsInFlight--;
        if (ev.Result >= 0)
        {
            _acceptFailures = 0;
            nint accepted = ev.Data;
            SocketCalls.MakeNonBlocking(accepted);
            SocketCalls.SetNoDelay(accepted);
            _events.OnAccepted(accepted);
        }
        else if (-ev.Result is Libc.EMFILE or Libc.ENFILE or Libc.ENOBUFS or Libc.ENOMEM || ++_acceptFailures >= AcceptsPosted)
        {
            // Out of resources, or failing every time (posting again at once would spin): the
            // same pause and retry as on Linux.
            _acceptFailures = 0;
            PauseAccepting(-ev.Result);
            return;
        }
        // Other failures (a peer that reset before being accepted) concern that one connection.
        if (_fd != -1)
            PostAccepts();
    }
}
