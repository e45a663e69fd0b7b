using System;
using MonaAot.Reactor.Epoll;

namespace MonaAot.Reactor;

/// <summary>The loop of the Unix build: its backend is epoll, the only one this build has
/// (MonaAot.Core.csproj compiles Reactor/Epoll/ with this file).</summary>
public sealed partial class EventLoop
{
    private readonly EpollBackend _backend;

    private EventLoop(EpollBackend backend) => _backend = backend;

    /// <summary>A loop on epoll. Epoll is Linux's: another Unix has no backend yet.</summary>
    public static EventLoop CreateDefault()
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("MonaAot's reactor has no backend for this OS yet");
        return new EventLoop(new EpollBackend());
    }

    /// <summary>The backend itself, for what only epoll has (the tests' look at its wake
    /// descriptor).</summary>
    internal EpollBackend Epoll => _backend;
}
