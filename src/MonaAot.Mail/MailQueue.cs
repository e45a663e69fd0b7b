using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using MimeKit;

namespace MonaAot.Mail;

/// <summary>
/// Sends mails one after another through one SMTP session, on a worker task off the loop thread, so
/// a slow or stalled server never delays the loop (docs/api.md, "Mail"). The session is kept for
/// the next mail and closed after <see cref="SmtpSettings.Timeout"/> idle. A failed mail ends the
/// session, so its error cannot leak into the next mail, which starts a fresh one.
///
/// <see cref="Send"/>, <see cref="Pending"/> and <see cref="Abandon"/> belong to the loop
/// thread; each completion comes back to it through <c>post</c> (the loop's cross-thread wake)
/// and runs there exactly once.
/// </summary>
public sealed class MailQueue : IDisposable
{
    private sealed class Job(MimeMessage message, Action<string?> completed)
    {
        public readonly MimeMessage Message = message;
        public readonly Action<string?> Completed = completed;
        public int Finished; // 0 until the worker or Abandon claims the completion
    }

    private readonly SmtpSettings _settings;
    private readonly Action<Action> _post;
    private readonly Channel<Job> _jobs = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly HashSet<Job> _outstanding = new(); // loop thread only
    private Task? _worker;

    public MailQueue(SmtpSettings settings, Action<Action> post)
    {
        _settings = settings;
        _post = post;
    }

    /// <summary>Mails sent or being sent whose completion has not run yet.</summary>
    public int Pending => _outstanding.Count;

    /// <summary>Mails the SMTP server accepted since the start (monaaot_mails_sent_total,
    /// docs/api.md, "[metrics]"); loop thread.</summary>
    public long Sent { get; private set; }

    /// <summary>Mails that ended with an error since the start, those abandoned at shutdown
    /// included (monaaot_mails_failed_total); loop thread.</summary>
    public long Failed { get; private set; }

    /// <summary>Queues <paramref name="message"/>; <paramref name="completed"/> runs later on the
    /// loop thread, once, with null or the reason the mail was not sent.</summary>
    public void Send(MimeMessage message, Action<string?> completed)
    {
        var job = new Job(message, completed);
        _outstanding.Add(job);
        if (_stop.IsCancellationRequested)
            return; // stopping: Abandon completes it
        _worker ??= Task.Run(RunAsync);
        _jobs.Writer.TryWrite(job);
    }

    /// <summary>Shutdown: completes every outstanding mail now, on the calling (loop) thread,
    /// with <paramref name="reason"/>, and stops the worker. That includes mails whose result
    /// the worker has posted but the loop has not run (it will not run them once stopped), and
    /// mails sent by the onSent handlers this runs.</summary>
    public void Abandon(string reason)
    {
        _stop.Cancel();
        _jobs.Writer.TryComplete();
        while (_outstanding.Count > 0)
        {
            foreach (Job job in new List<Job>(_outstanding))
            {
                Interlocked.Exchange(ref job.Finished, 1);
                Run(job, reason);
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _jobs.Writer.TryComplete();
        try
        {
            _worker?.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // the worker ends on cancellation; nothing is left to report to
        }
        _stop.Dispose();
    }

    /// <summary>Worker side: hands the result to the loop unless Abandon did already.</summary>
    private void Finish(Job job, string? error)
    {
        if (Interlocked.Exchange(ref job.Finished, 1) == 0)
            _post(() => Run(job, error));
    }

    /// <summary>Loop thread: the completion, once; a second call (a posted result arriving
    /// after Abandon completed the mail) does nothing.</summary>
    private void Run(Job job, string? error)
    {
        if (!_outstanding.Remove(job))
            return;
        if (error is null)
            Sent++;
        else
            Failed++;
        job.Completed(error);
    }

    private async Task RunAsync()
    {
        SmtpSession? session = null;
        try
        {
            while (true)
            {
                Job? job = await NextJobAsync(session is not null).ConfigureAwait(false);
                if (job is null)
                {
                    if (_stop.IsCancellationRequested || _jobs.Reader.Completion.IsCompleted)
                        return;
                    await CloseAsync(session).ConfigureAwait(false); // idle for the whole timeout
                    session = null;
                    continue;
                }
                if (Volatile.Read(ref job.Finished) != 0)
                    continue; // abandoned while queued
                try
                {
                    // A kept session may have been closed by the server meanwhile (its own idle
                    // timeout can be shorter than ours): check it, rather than fail the mail.
                    if (session is not null && !await session.IsAliveAsync(_stop.Token).ConfigureAwait(false))
                    {
                        session.Dispose();
                        session = null;
                    }
                    session ??= await OpenAsync().ConfigureAwait(false);
                    await session.SendAsync(job.Message, _stop.Token).ConfigureAwait(false);
                    Finish(job, null);
                }
                catch (Exception e) when (!_stop.IsCancellationRequested)
                {
                    session?.Dispose();
                    session = null;
                    Finish(job, SmtpErrors.Describe(e, _settings));
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // stopping: Abandon has completed what was outstanding
        }
        finally
        {
            session?.Dispose();
        }
    }

    /// <summary>The next job; null when the channel ended, or, with a session open, when none
    /// came within the idle timeout.</summary>
    private async Task<Job?> NextJobAsync(bool sessionOpen)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        if (sessionOpen)
            idle.CancelAfter(_settings.Timeout);
        try
        {
            while (await _jobs.Reader.WaitToReadAsync(idle.Token).ConfigureAwait(false))
            {
                if (_jobs.Reader.TryRead(out Job? job))
                    return job;
            }
            return null;
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            return null;
        }
    }

    private async Task<SmtpSession> OpenAsync()
    {
        SmtpSession session = new SmtpSession();
        try
        {
            // The timeout bounds the whole opening (connect, greeting, TLS, AUTH) on top of the
            // client's own per-read timeout.
            using var opening = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            opening.CancelAfter(_settings.Timeout);
            await session.OpenAsync(_settings, opening.Token).ConfigureAwait(false);
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private static async Task CloseAsync(SmtpSession? session)
    {
        if (session is null)
            return;
        try
        {
            await session.QuitAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // the server went away first: the session is over either way
        }
        session.Dispose();
    }
}
