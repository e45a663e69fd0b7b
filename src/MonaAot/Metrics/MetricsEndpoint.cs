using System;
using System.Buffers.Text;
using System.Net;
using MonaAot.Diagnostics;
using MonaAot.Lua.Runtime;
using MonaAot.Mail;
using MonaAot.Net;
using MonaAot.Reactor;
using MonaAot.Workers;

namespace MonaAot.Metrics;

/// <summary>
/// [metrics] port: GET /metrics in Prometheus text format, served on the loop itself by the
/// reactor's own listener and connections, no Lua involved (docs/api.md, "[metrics]"). The text is
/// made from counters the loop already keeps, so a scrape costs a few microseconds and never
/// waits; the answer goes through the normal send path and the connection then closes
/// (<c>Connection: close</c>: a scraper opens one connection per scrape anyway). At most
/// <see cref="MaxConnections"/> scrapers at a time, each with <see cref="RequestTimeoutMs"/> to send
/// its request head: a slow or silent client holds one slot, never the loop.
/// </summary>
public sealed class MetricsEndpoint : ITcpListenerEvents, IDisposable
{
    public const int MaxConnections = 16;
    public const int RequestTimeoutMs = 5000;

    private readonly NetContext _net;
    private readonly ScriptRuntime _runtime;
    private readonly MailQueue _mail;
    private readonly MetricsText _text = new();
    private readonly byte[] _head = new byte[256];
    private readonly LoopLagProbe _lag;
    private TcpListener? _listener;
    private int _open;

    private MetricsEndpoint(NetContext net, ScriptRuntime runtime, MailQueue mail)
    {
        _net = net;
        _runtime = runtime;
        _mail = mail;
        _lag = new LoopLagProbe(net.Loop);
    }

    public int Port => _listener?.Port ?? 0;

    /// <summary>
    /// The port worker <paramref name="worker"/> serves its own endpoint on: [metrics] port plus
    /// its number minus one (port..port+N-1 for N workers, docs/api.md, "[metrics]"), so that a
    /// scraper reaches each worker rather than whichever the kernel picks; 0 (a free port) stays 0
    /// for every worker.
    /// </summary>
    public static int PortFor(int configuredPort, WorkerIdentity worker) =>
        configuredPort == 0 ? 0 : configuredPort + (worker.Number - 1);

    /// <summary>Listens on <paramref name="address"/>:<paramref name="port"/>; null with <paramref name="error"/> set when the
    /// address cannot be bound (in use, not local).</summary>
    public static MetricsEndpoint? Start(NetContext net, ScriptRuntime runtime, MailQueue mail, IPAddress address, int port, out string? error)
    {
        if (port > 65535)
        {
            // [metrics] port near the top with [server] workers: the last workers' ports do not exist.
            error = "beyond port 65535 ([metrics] port + worker number - 1)";
            return null;
        }
        var endpoint = new MetricsEndpoint(net, runtime, mail);
        endpoint._listener = TcpListener.Start(net, NetAddress.From(address, port), endpoint, out error, shared: false);
        if (endpoint._listener is null)
        {
            endpoint._lag.Dispose();
            return null;
        }
        return endpoint;
    }

    public void OnAccepted(nint fd)
    {
        var client = new Client(this);
        client.Connection = TcpConnection.Accepted(_net, fd, client);
        if (_open >= MaxConnections)
        {
            client.Connection.Abort();
            return;
        }
        _open++;
        client.Timer = _net.Loop.Schedule(RequestTimeoutMs, 0, client.TimedOut);
    }

    /// <summary>The exposition text of this moment; also what the tests parse.</summary>
    public ReadOnlySpan<byte> Render()
    {
        NetStats stats = _net.Stats;
        MetricsText t = _text;
        WorkerIdentity worker = WorkerIdentity.Current;
        t.Begin(worker.Number);
        t.Gauge("monaaot_connections", "TCP connections open now (accepted and connected, the metrics endpoint's own included).", stats.Connections);
        t.Counter("monaaot_accepts_total", "TCP connections accepted since the start.", stats.Accepts);
        // Every class always, 0 included, so that rate() has a start (docs/api.md, "[metrics]").
        t.LabelledCounter("monaaot_errors_total", "Errors since the start, by class (connection: a TCP connection that ended with an error; tls: a failed TLS handshake; proxy: a connection closed for its PROXY header; script: a script error logged; udp: a datagram not sent; dns: a failed name resolution).", true, "class=\"connection\"", stats.ConnectionErrors);
        t.LabelledCounter("monaaot_errors_total", "", false, "class=\"tls\"", stats.TlsHandshakeFailures);
        t.LabelledCounter("monaaot_errors_total", "", false, "class=\"proxy\"", stats.ProxyRejections);
        t.LabelledCounter("monaaot_errors_total", "", false, "class=\"script\"", _runtime.ScriptErrors);
        t.LabelledCounter("monaaot_errors_total", "", false, "class=\"udp\"", stats.UdpErrors);
        t.LabelledCounter("monaaot_errors_total", "", false, "class=\"dns\"", _runtime.ResolveErrors);
        t.Counter("monaaot_received_bytes_total", "Bytes received over TCP and UDP since the start.", stats.BytesReceived);
        t.Counter("monaaot_sent_bytes_total", "Bytes sent over TCP and UDP since the start.", stats.BytesSent);
        t.Gauge("monaaot_open_sockets", "Sockets open now (listeners, connections, UDP sockets).", _net.OpenSockets);
        t.Gauge("monaaot_ending_connections", "Connections closing now, delivering what they queued before their FIN.", _net.EndingConnections);
        t.Gauge("monaaot_timers", "Lua timers armed now.", _runtime.ArmedTimers);
        t.GaugeSeconds("monaaot_loop_lag_seconds", "How late the loop ran its last 250 ms probe timer.", _lag.LastMs);
        t.GaugeSeconds("monaaot_loop_lag_max_seconds", "The largest loop lag since the previous scrape.", _lag.TakeMaxMs());
        t.Gauge("monaaot_lua_memory_bytes", "Bytes the Lua heap holds now.", _runtime.Vm.MemoryInUse);
        t.Gauge("monaaot_managed_heap_bytes", "Bytes the managed heap holds now.", GC.GetTotalMemory(forceFullCollection: false));
        t.Counter("monaaot_managed_allocated_bytes_total", "Bytes allocated on the managed heap since the start.", GC.GetTotalAllocatedBytes(precise: false));
        t.Counter("monaaot_gc_collections_total", "Garbage collections since the start (every generation).", GC.CollectionCount(0));
        t.Gauge("monaaot_mails_pending", "Mails handed to the SMTP server and not finished yet.", _mail.Pending);
        t.Counter("monaaot_mails_sent_total", "Mails the SMTP server accepted since the start.", _mail.Sent);
        t.Counter("monaaot_mails_failed_total", "Mails that ended with an error since the start (abandoned at shutdown included).", _mail.Failed);
        t.Gauge("monaaot_workers", "Worker processes of this server ([server] workers; 1 without).", worker.Count);
        return t.Written;
    }

    private void Answer(Client client, MetricsRequestKind kind)
    {
        ReadOnlySpan<byte> body = kind switch
        {
            MetricsRequestKind.Metrics => Render(),
            MetricsRequestKind.NotFound => "not found: only GET /metrics is served here\n"u8,
            _ => "method not allowed: only GET /metrics is served here\n"u8,
        };
        ReadOnlySpan<byte> status = kind switch
        {
            MetricsRequestKind.Metrics => "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"u8,
            MetricsRequestKind.NotFound => "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"u8,
            _ => "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\nContent-Type: text/plain; charset=utf-8\r\n"u8,
        };
        int length = 0;
        Append(status, ref length);
        Append("Content-Length: "u8, ref length);
        Utf8Formatter.TryFormat(body.Length, _head.AsSpan(length), out int n);
        length += n;
        Append("\r\nConnection: close\r\n\r\n"u8, ref length);
        TcpConnection connection = client.Connection!;
        if (connection.Send(_head.AsSpan(0, length)) is null)
            connection.Send(body);
        connection.Disconnect();
    }

    private void Append(ReadOnlySpan<byte> bytes, ref int length)
    {
        bytes.CopyTo(_head.AsSpan(length));
        length += bytes.Length;
    }

    public void Dispose()
    {
        _lag.Dispose();
        _listener?.Stop();
        _listener = null;
    }

    /// <summary>One scraper's connection: its request head, then one answer.</summary>
    private sealed class Client(MetricsEndpoint endpoint) : ITcpConnectionEvents
    {
        public TcpConnection? Connection;
        public LoopTimer? Timer;
        private bool _answered;

        public void OnConnected(TcpConnection connection)
        {
        }

        public int OnReceived(TcpConnection connection, ReadOnlySpan<byte> data)
        {
            if (_answered)
                return 0;
            MetricsRequestKind kind = MetricsRequest.Parse(data);
            if (kind == MetricsRequestKind.Incomplete)
                return data.Length;
            _answered = true;
            Timer?.Cancel();
            if (kind == MetricsRequestKind.Malformed)
            {
                endpoint._net.Logger.Debug($"metrics: malformed or oversize request from {connection.PeerText}, closed");
                connection.Abort();
                endpoint.Closed();
                return 0;
            }
            endpoint.Answer(this, kind);
            return 0;
        }

        public void OnEnd(TcpConnection connection)
        {
        }

        public void OnFlushed(TcpConnection connection)
        {
        }

        public void OnClosed(TcpConnection connection, NetFailure error)
        {
            Timer?.Cancel();
            endpoint.Closed();
        }

        public void TimedOut()
        {
            if (_answered)
                return;
            _answered = true;
            endpoint._net.Logger.Debug($"metrics: no complete request from {Connection?.PeerText} within {RequestTimeoutMs / 1000} s, closed");
            Connection?.Abort();
            endpoint.Closed();
        }
    }

    private void Closed()
    {
        if (_open > 0)
            _open--;
    }
}
