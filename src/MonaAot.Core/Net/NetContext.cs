using System;
using System.Runtime.InteropServices;
using MonaAot.Diagnostics;
using MonaAot.Reactor;

namespace MonaAot.Net;

/// <summary>
/// The [tcp] limits (docs/api.md: "Limits"). LingerMs: once a closing connection's FIN is sent and
/// the kernel has delivered everything, how long the peer's own FIN is awaited before the socket
/// is closed (a close with unread data coming in would reset the peer and lose what it has not
/// read yet).
/// </summary>
public sealed record TcpLimits(long MaxUnconsumedBytes, long MaxQueuedBytes, int LingerMs, int ConnectTimeoutMs)
{
    public static TcpLimits Default { get; } = new(16L << 20, 64L << 20, 2000, 10_000);

    /// <summary>How long the drain of a closing connection may go without the peer taking a byte
    /// ([tcp] sendTimeout); then it ends with an error naming what was not delivered.</summary>
    public int SendTimeoutMs { get; init; } = 60_000;

    /// <summary>Seconds without a byte either way after which a connection is ended; 0: never.</summary>
    public int IdleTimeoutSeconds { get; init; }

    /// <summary>How long a TLS handshake may take ([tls] handshakeTimeout); then the connection
    /// ends with an error.</summary>
    public int TlsHandshakeTimeoutMs { get; init; } = 10_000;
}

/// <summary>Counters of one loop's sockets; loop thread only. BytesSent lives in native memory
/// (<see cref="BytesSentCell"/>) so that direct writers (<see cref="DirectWriteGate"/>) can add
/// what they write to it in place.</summary>
public sealed unsafe class NetStats : IDisposable
{
    public long Connections { get; internal set; }
    public long BytesReceived { get; internal set; }

    /// <summary>Connections accepted by every listener since the start (the metrics endpoint's
    /// monaaot_accepts_total; docs/api.md, "[metrics]").</summary>
    public long Accepts { get; internal set; }

    /// <summary>TCP connections that ended with an error (reset, timeout, a limit) rather than a
    /// normal close.</summary>
    public long ConnectionErrors { get; internal set; }

    /// <summary>TLS handshakes that failed (refused, malformed, timed out, the peer gone), as a
    /// server or a client: monaaot_errors_total{class="tls"} (docs/api.md, "[metrics]").</summary>
    public long TlsHandshakeFailures { get; internal set; }

    /// <summary>Connections a server expecting a PROXY header closed for a header missing,
    /// malformed, too slow, or from an untrusted source; a balancer's health check (closed before
    /// any byte) is not one: monaaot_errors_total{class="proxy"}.</summary>
    public long ProxyRejections { get; internal set; }

    /// <summary>UDP datagrams that could not be sent (refused by the kernel, the peer reported
    /// unreachable, the send queue full): monaaot_errors_total{class="udp"}.</summary>
    public long UdpErrors { get; internal set; }

    public long BytesSent
    {
        get => *BytesSentCell;
        internal set => *BytesSentCell = value;
    }

    /// <summary>Where <see cref="BytesSent"/> is kept: a direct writer adds its bytes here.</summary>
    public long* BytesSentCell { get; private set; } = (long*)NativeMemory.AllocZeroed((nuint)sizeof(long));

    public void Dispose()
    {
        NativeMemory.Free(BytesSentCell);
        BytesSentCell = null;
    }
}

/// <summary>
/// What every socket of one loop shares: the loop, the limits and counters, one receive buffer
/// (a connection reads into it and hands the bytes to its owner at once, so idle connections own no
/// buffer) and the pool of send-queue chunks. Loop thread only.
/// </summary>
public sealed unsafe class NetContext : IDisposable
{
    /// <summary>
    /// Bytes one recv may bring, and so the largest block one onReception call sees. 120 KiB:
    /// large enough that the per-call costs of the owner (for a script: the Lua call, the
    /// string) are spread over many bytes (streaming measured 15% less CPU per byte than with
    /// 64 KiB), small enough that a copy of it (the Lua string) stays under glibc's 128 KiB mmap threshold, so that each one
    /// comes from the heap instead of a fresh mapping (128 and 256 KiB measured far worse).
    /// </summary>
    public const int ReadBufferSize = 120 * 1024;

    public NetContext(EventLoop loop, Logger logger, TcpLimits? limits = null)
    {
        Loop = loop;
        Logger = logger;
        Limits = limits ?? TcpLimits.Default;
        ReadBuffer = (byte*)NativeMemory.Alloc(ReadBufferSize);
        if (Limits.IdleTimeoutSeconds > 0)
            Idle = new IdleSweeper(loop, Limits.IdleTimeoutSeconds);
        loop.Spares.Add(SpareConnections); // dropped by the idle trim
    }

    /// <summary>The idle-connection sweeper, when [tcp] idleTimeout is set.</summary>
    internal IdleSweeper? Idle { get; }

    public EventLoop Loop { get; }
    public Logger Logger { get; }
    public TcpLimits Limits { get; }

    /// <summary>True in a worker of <c>[server] workers</c> (N &gt; 1): listening TCP servers and
    /// bound UDP sockets set SO_REUSEPORT, so that the workers share their addresses.</summary>
    public bool ReusePort { get; init; }
    public NetStats Stats { get; } = new();

    /// <summary>The descriptor a listener accepted last with its peer's address as accept4 gave
    /// it (-1: none), which <see cref="TcpConnection.Accepted"/> takes instead of asking the
    /// kernel again with getpeername (docs/performance.md, "Issue 19: CPU per message").
    /// Loop thread only.</summary>
    internal nint AcceptedFd = -1;
    internal NetAddress AcceptedPeer;
    internal ChunkPool Chunks { get; } = new();

    /// <summary>Closed accepted connections kept for the next accepts
    /// (TcpConnection.Recycling.cs): as many as a burst of closes in one turn or so, a few
    /// hundred bytes each.</summary>
    internal MonaAot.Collections.Pool<TcpConnection> SpareConnections { get; } = new(1024);

    private UdpBatch? _udpBatch;

    /// <summary>The shared recvmmsg/sendmmsg buffers, made on first use (1 MiB, mostly untouched).</summary>
    internal UdpBatch UdpBatch => _udpBatch ??= new UdpBatch();
    internal byte* ReadBuffer { get; private set; }

    /// <summary>Bytes one step of a TLS connection takes out of its session at a time: one
    /// encryption step (64 KiB of plaintext) and its records' overhead, so that a step goes out
    /// in one send, not a full one and a tail of a hundred bytes.</summary>
    internal const int CipherBufferSize = 68 * 1024;

    private byte* _cipherBuffer;

    /// <summary>Where TLS connections take their ciphertext out of the session on its way to the
    /// kernel (made on first use: a server without TLS never has it).</summary>
    internal byte* CipherBuffer => _cipherBuffer != null ? _cipherBuffer : _cipherBuffer = (byte*)NativeMemory.Alloc(CipherBufferSize);

    private byte* _tlsInBuffer;

    /// <summary>Where TLS connections read ciphertext (ReadBufferSize bytes, made on first use),
    /// apart from <see cref="ReadBuffer"/>, which takes the plaintext decrypted from it: the
    /// session is fed a record at a time from here, so its memory never holds a whole read.</summary>
    internal byte* TlsInBuffer => _tlsInBuffer != null ? _tlsInBuffer : _tlsInBuffer = (byte*)NativeMemory.Alloc(ReadBufferSize);

    /// <summary>Connections that were disconnected and are still handing their queue to the
    /// kernel, or waiting for the peer's FIN: what a stopping server could not deliver.</summary>
    internal System.Collections.Generic.HashSet<TcpConnection> Ending { get; } = new();

    /// <summary>Connections disconnected and not closed yet (some may hold no descriptor: they
    /// were still connecting).</summary>
    public int EndingConnections => Ending.Count;

    /// <summary>What the connections still ending hold: their queued bytes and what their
    /// kernel buffers have not delivered yet (Linux).</summary>
    public long UndeliveredBytes(out int connections)
    {
        long bytes = 0;
        connections = 0;
        foreach (TcpConnection connection in Ending)
        {
            long pending = connection.Undelivered;
            if (pending == 0)
                continue;
            connections++;
            bytes += pending;
        }
        return bytes;
    }

    /// <summary>The listening TCP sockets, which a SIGTERM closes at once (<see cref="StopListening"/>).</summary>
    internal System.Collections.Generic.HashSet<TcpListener> Listeners { get; } = new();

    /// <summary>True once <see cref="StopListening"/> ran: no listener starts again.</summary>
    public bool ListeningStopped { get; private set; }

    /// <summary>Closes every listener, so that new connections are refused (a load balancer
    /// then sends them elsewhere) while the open ones go on; returns how many were closed.</summary>
    public int StopListening()
    {
        ListeningStopped = true;
        int count = Listeners.Count;
        foreach (TcpListener listener in new System.Collections.Generic.List<TcpListener>(Listeners))
            listener.Stop();
        return count;
    }

    /// <summary>Descriptors held by sockets of this context (connections, draining ones, listeners).</summary>
    public int OpenSockets { get; private set; }

    /// <summary>Watches <paramref name="fd"/>; if that fails the descriptor is closed and the
    /// exception goes on, so that no path leaks it.</summary>
    internal ulong Attach(nint fd, IIoHandler handler, IoEvents interest)
    {
        ulong token = Loop.Handles.Add(handler);
        try
        {
            Loop.Backend.Attach(fd, token, interest);
        }
        catch
        {
            Loop.Handles.Remove(token);
            SocketCalls.Close(fd);
            throw;
        }
        OpenSockets++;
        return token;
    }

    internal void Change(nint fd, ulong token, IoEvents interest) => Loop.Backend.Change(fd, token, interest);

    /// <summary>Stops watching and closes <paramref name="fd"/>. Cannot fail halfway: the handle
    /// is removed and the descriptor closed whatever happens to the detach (which ignores the
    /// OS's complaints itself), so that the owner's close always completes.</summary>
    internal void Close(nint fd, ulong token) => Close(fd, token, owned: false);

    /// <summary><see cref="Close(nint, ulong)"/> for a descriptor nothing outside this process
    /// shares (a TCP connection's, accepted or opened here with CLOEXEC, never passed on): the
    /// backend may skip the detach that the close makes redundant (<see cref="IIoBackend.Forget"/>).</summary>
    internal void CloseOwned(nint fd, ulong token) => Close(fd, token, owned: true);

    private void Close(nint fd, ulong token, bool owned)
    {
        try
        {
            if (owned)
                Loop.Backend.Forget(fd);
            else
                Loop.Backend.Detach(fd);
        }
        finally
        {
            Loop.Handles.Remove(token);
            SocketCalls.Close(fd);
            OpenSockets--;
        }
    }

    /// <summary>Stops watching <paramref name="fd"/> without closing it: a socket systemd
    /// passed goes back to <see cref="SocketActivation"/>, open.</summary>
    internal void Release(nint fd, ulong token)
    {
        try
        {
            Loop.Backend.Detach(fd);
        }
        finally
        {
            Loop.Handles.Remove(token);
            OpenSockets--;
        }
    }

    public void Dispose()
    {
        NativeMemory.Free(ReadBuffer);
        ReadBuffer = null;
        if (_cipherBuffer != null)
            NativeMemory.Free(_cipherBuffer);
        _cipherBuffer = null;
        if (_tlsInBuffer != null)
            NativeMemory.Free(_tlsInBuffer);
        _tlsInBuffer = null;
        Chunks.Dispose();
        Stats.Dispose();
        _udpBatch?.Dispose();
    }
}
