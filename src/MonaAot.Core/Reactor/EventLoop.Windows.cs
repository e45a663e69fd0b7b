using System.Diagnostics;
using MonaAot.Interop;
using MonaAot.Reactor.Iocp;

namespace MonaAot.Reactor;

/// <summary>The loop of the Windows build: its backend is the completion port
/// (MonaAot.Core.csproj compiles Reactor/Iocp/ with this file).</summary>
public sealed partial class EventLoop
{
    private readonly IocpBackend _backend;

    private EventLoop(IocpBackend backend) => _backend = backend;

    /// <summary>A loop on a new completion port.</summary>
    public static EventLoop CreateDefault()
    {
        Debug.Assert(TargetPlatform.IsWindows);
        return new EventLoop(new IocpBackend());
    }

    /// <summary>The backend itself, typed: the Windows socket code posts its sends, connects
    /// and accepts as operations on this port (Net/IocpSocketOperations.Windows.cs), which the
    /// <see cref="IIoBackend"/> seam has no words for.</summary>
    internal IocpBackend Iocp => _backend;
}
