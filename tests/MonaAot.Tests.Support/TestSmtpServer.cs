using System;
using System.Buffers;
using System.Collections.Concurrent;
using System.IO;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using MimeKit;
using SmtpServer;
using SmtpServer.Authentication;
using SmtpServer.ComponentModel;
using SmtpServer.Mail;
using SmtpServer.Net;
using SmtpServer.Protocol;
using SmtpServer.Storage;

namespace MonaAot.Tests.Support;

/// <summary>
/// An in-process SMTP server (the SmtpServer package) on 127.0.0.1 and a port the system
/// picks, for the mail faults OpenSMTPD cannot be made to show on demand. Its behaviour is
/// chosen per mail by the recipient's local part:
///   reject@...   the recipient is refused (550)
///   stall@...    the server never answers the end of the data
///   drop@...     the server closes the connection at the end of the data, without a reply
/// </summary>
public sealed class TestSmtpServer : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly SmtpServer.SmtpServer _server;
    private readonly Task _running;
    private int _sessions;

    private TestSmtpServer(string? user, string? password, TimeSpan? idleLimit)
    {
        var builder = new SmtpServerOptionsBuilder().ServerName("localhost");
        if (idleLimit is { } limit)
            builder = builder.CommandWaitTimeout(limit);
        var options = builder
            .Endpoint(endpoint =>
            {
                endpoint.Endpoint(new IPEndPoint(IPAddress.Loopback, 0));
                if (user is not null)
                    endpoint.AuthenticationRequired().AllowUnsecureAuthentication();
            })
            .Build();
        var listeners = new EndpointListenerFactory();
        var started = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        listeners.EndpointStarted += (_, e) => started.TrySetResult(((IPEndPoint)e.LocalEndPoint).Port);
        var services = new ServiceProvider();
        services.Add(listeners);
        services.Add(new Store(this));
        services.Add(new Filter());
        if (user is not null)
            services.Add(new Authenticator(user, password ?? ""));
        _server = new SmtpServer.SmtpServer(options, services);
        _server.SessionCreated += (_, _) =>
        {
            Interlocked.Increment(ref _sessions);
            SessionStarted.TrySetResult();
        };
        _server.SessionCompleted += (_, _) => SessionEnded.TrySetResult();
        _running = _server.StartAsync(_stop.Token);
        Started = started.Task;
    }

    private Task<int> Started { get; }

    public int Port { get; private set; }

    /// <summary>SMTP sessions (connections) the server has seen.</summary>
    public int Sessions => Volatile.Read(ref _sessions);

    /// <summary>Completed when the first session starts.</summary>
    public TaskCompletionSource SessionStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completed when the first session ends (the client quit or went away).</summary>
    public TaskCompletionSource SessionEnded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Every message stored, parsed, in order of arrival.</summary>
    public ConcurrentQueue<MimeMessage> Messages { get; } = new();

    /// <summary>Released by the test to end every stall.</summary>
    public CancellationTokenSource Unstall { get; } = new();

    /// <summary>Starts a server; with <paramref name="user"/>, it requires AUTH with that user and
    /// password; with <paramref name="idleLimit"/>, it drops a session idle that long.</summary>
    public static async Task<TestSmtpServer> Start(string? user = null, string? password = null, TimeSpan? idleLimit = null)
    {
        var server = new TestSmtpServer(user, password, idleLimit);
        server.Port = await server.Started.WaitAsync(TimeSpan.FromSeconds(10));
        return server;
    }

    /// <summary>The [smtp] section for this server, with a short timeout by default.</summary>
    public string Ini(int timeoutSeconds = 2, string extra = "") =>
        $"[smtp]\nhost=127.0.0.1\nport={Port}\ntimeout={timeoutSeconds}\ntls=none\n{extra}";

    public async ValueTask DisposeAsync()
    {
        Unstall.Cancel();
        _stop.Cancel();
        try
        {
            await _running.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }

    private sealed class Store(TestSmtpServer owner) : MessageStore
    {
        public override async Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction,
            ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            string to = transaction.To.Count > 0 ? transaction.To[0].User : "";
            if (to == "stall")
            {
                using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, owner.Unstall.Token);
                await Task.Delay(Timeout.Infinite, either.Token).ContinueWith(_ => { }, TaskScheduler.Default);
                return SmtpResponse.TransactionFailed;
            }
            if (to == "drop")
            {
                // Gone in the middle of the mail: the connection closes with no reply to the data.
                await context.Pipe.Input.CompleteAsync();
                await context.Pipe.Output.CompleteAsync();
                (context.Pipe as IDisposable)?.Dispose();
                throw new IOException("test server drops the session");
            }
            using var stream = new MemoryStream(buffer.ToArray());
            owner.Messages.Enqueue(await MimeMessage.LoadAsync(stream, cancellationToken));
            return SmtpResponse.Ok;
        }
    }

    private sealed class Filter : MailboxFilter
    {
        public override Task<bool> CanDeliverToAsync(ISessionContext context, IMailbox to, IMailbox from, CancellationToken cancellationToken) =>
            Task.FromResult(to.User != "reject");
    }

    private sealed class Authenticator(string user, string password) : UserAuthenticator
    {
        public override Task<bool> AuthenticateAsync(ISessionContext context, string name, string secret, CancellationToken cancellationToken) =>
            Task.FromResult(name == user && secret == password);
    }
}
