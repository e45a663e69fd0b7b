using System;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks;

namespace MonaAot.Tests.Support;

/// <summary>
/// A Lua application run in-process on a running loop, and a test-side client to talk to it.
/// The test's own sockets use System.Net.Sockets: they stand for the outside world, not for
/// MonaAot's data path.
/// </summary>
public sealed class TcpApp : IAsyncDisposable
{
    private TcpApp(TempWww www, HostHarness harness)
    {
        Www = www;
        Harness = harness;
    }

    public TempWww Www { get; }
    public HostHarness Harness { get; }
    public ListLogSink Log => Harness.Log;

    /// <summary>Starts the loop with <paramref name="rootScript"/> as www/main.lua
    /// (<paramref name="hosts"/>: the hosts file instead of the system's; <paramref name="setup"/>:
    /// what to put in the www folder first, given its path).</summary>
    public static async Task<TcpApp> Start(string rootScript, string ini = "", MonaAot.Net.HostsFile? hosts = null, Action<string>? setup = null)
    {
        var www = new TempWww();
        setup?.Invoke(www.Www);
        www.WriteApp("", rootScript);
        var harness = new HostHarness(www, ini, hosts: hosts);
        harness.StartLoop();
        var app = new TcpApp(www, harness);
        await harness.OnLoop(() =>
        {
            harness.Rescan();
            return 0;
        });
        return app;
    }

    /// <summary>Runs Lua code in the root application's environment, on the loop (errors throw).
    /// It is ordered after nothing the peer saw: on IOCP a send's completion or a FIN can reach
    /// the loop after a chunk posted once the test's socket has the bytes, so state that changes
    /// then (queueing, stats, connected) is read in the event that changes it (onFlush,
    /// onDisconnection), not here.</summary>
    public Task Run(string code) => Harness.OnLoop(() =>
    {
        KeraLua.Lua lua = Harness.Vm.State;
        if (lua.LoadString(code) == KeraLua.LuaStatus.OK)
        {
            lua.RawGetInteger(KeraLua.LuaRegistry.Index, Harness.Host.Applications[""].EnvironmentRef);
            lua.SetUpValue(-2, 1); // run as the root application's code: what it makes belongs to the root
        }
        bool ok = lua.GetTop() > 0 && lua.PCall(0, 0, 0) == KeraLua.LuaStatus.OK;
        if (!ok)
        {
            string error = lua.ToString(-1);
            lua.Pop(1);
            throw new InvalidOperationException(error);
        }
        return 0;
    });

    /// <summary>Runs <paramref name="code"/> (a chunk that returns a value) under pcall in an
    /// application started with <paramref name="setup"/>; returns what it returned or raised,
    /// as text.</summary>
    public static async Task<string> ResultOf(string setup, string code)
    {
        await using TcpApp app = await Start(setup);
        await app.Run($"local ok, r = pcall(function() {code} end) NOTE('result ', r)");
        return (await app.Log.WaitFor("result "))["result ".Length..];
    }

    /// <summary>A test-side listener on 127.0.0.1 with a free port, for MonaAot's clients to reach.</summary>
    public static Socket Listen(out int port)
    {
        var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        return listener;
    }

    /// <summary>A client socket for tests that open thousands of connections (Linux): its
    /// source address is 127.0.0.2, its port chosen at connect (IP_BIND_ADDRESS_NO_PORT), so
    /// that its connections, and the TIME_WAIT they leave for a minute, take no port of
    /// 127.0.0.1, where other tests running meanwhile bind ports they picked (a churn of
    /// 100,000 connections from 127.0.0.1 left no two free ports in a row there).</summary>
    public static Socket ChurnClient()
    {
        const int IP_BIND_ADDRESS_NO_PORT = 24; // linux/in.h
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.SetRawSocketOption((int)SocketOptionLevel.IP, IP_BIND_ADDRESS_NO_PORT, BitConverter.GetBytes(1));
        socket.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
        return socket;
    }

    /// <summary>A port free now on 127.0.0.1 (bound to 0, then released), for a peer or a
    /// configuration that cannot say "any port": HAProxy's frontend, socket activation, the
    /// workers' shared port.</summary>
    public static int FreePort(SocketType type = SocketType.Stream)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, type, type == SocketType.Stream ? ProtocolType.Tcp : ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    /// <summary>A port on 127.0.0.1 that refuses connections: bound, not listening, and held by
    /// the returned socket so that nothing else takes it meanwhile.</summary>
    public static Socket RefusingPort(out int port)
    {
        var probe = new Socket(SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        return probe;
    }

    public static async Task<Socket> Connect(int port, IPAddress? address = null)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(address ?? IPAddress.Loopback, port));
        return socket;
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes, or throws if the peer closes first.</summary>
    public static async Task<byte[]> ReadExactly(Socket socket, int count)
    {
        var buffer = new byte[count];
        int read = 0;
        while (read < count)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None);
            if (n == 0)
                throw new InvalidOperationException($"peer closed after {read} of {count} bytes");
            read += n;
        }
        return buffer;
    }

    /// <summary>Reads until the peer closes.</summary>
    public static async Task<byte[]> ReadToEnd(Socket socket)
    {
        var all = new System.IO.MemoryStream();
        var buffer = new byte[65536];
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
            all.Write(buffer, 0, n);
        return all.ToArray();
    }

    /// <summary>Stops the applications and waits (bounded) until every socket they had is
    /// closed, graceful closes included; returns how many are still open (0 unless leaked).</summary>
    public async Task<int> StopAndCountOpenSockets()
    {
        await Harness.OnLoop(() =>
        {
            Harness.Host.Stop();
            return 0;
        });
        var drained = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        long deadline = MonaAot.Reactor.EventLoop.Now + 10_000;
        void Check()
        {
            int open = Harness.Net.OpenSockets;
            if (open == 0 || MonaAot.Reactor.EventLoop.Now > deadline)
                drained.SetResult(open);
            else
                Harness.Loop.Schedule(10, 0, Check);
        }
        Harness.Loop.Post(Check);
        return await drained.Task;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            Harness.Dispose(); // throws when MonaAot logged a bug
        }
        finally
        {
            Www.Dispose();
        }
        await Task.CompletedTask;
    }
}
