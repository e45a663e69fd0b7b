using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using MonaAot.Diagnostics;

namespace MonaAot.Tests.Support;

/// <summary>Keeps log entries in memory for assertions; tests can wait for one to arrive.</summary>
public sealed class ListLogSink : ILogSink
{
    private readonly List<LogEntry> _entries = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Write(in LogEntry entry)
    {
        TaskCompletionSource changed;
        lock (_entries)
        {
            _entries.Add(entry);
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
    }

    public List<LogEntry> Entries
    {
        get
        {
            lock (_entries)
                return new List<LogEntry>(_entries);
        }
    }

    /// <summary>Messages only, in order.</summary>
    public List<string> Messages => Entries.ConvertAll(e => e.Message);

    /// <summary>Messages with a prefix, in order.</summary>
    public List<string> MessagesStartingWith(string prefix) =>
        Entries.FindAll(e => e.Message.StartsWith(prefix, StringComparison.Ordinal)).ConvertAll(e => e.Message);

    /// <summary>Waits for a message starting with <paramref name="prefix"/> and returns it.</summary>
    public async Task<string> WaitFor(string prefix, TimeSpan? timeout = null) =>
        (await WaitForEntry(e => e.Message.StartsWith(prefix, StringComparison.Ordinal), $"'{prefix}...'", timeout)).Message;

    /// <summary>Waits for the first entry <paramref name="match"/> accepts and returns it.</summary>
    public async Task<LogEntry> WaitForEntry(Predicate<LogEntry> match, string what, TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            Task changed;
            lock (_entries)
            {
                LogEntry found = _entries.Find(match);
                if (found.Message is not null)
                    return found;
                changed = _changed.Task;
            }
            try
            {
                await changed.WaitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no log message {what}; log:\n{string.Join("\n", Messages)}");
            }
        }
    }

    /// <summary>Waits for the number after <paramref name="prefix"/> in a message ("port 1234").</summary>
    public async Task<int> WaitForNumber(string prefix, TimeSpan? timeout = null) =>
        int.Parse((await WaitFor(prefix, timeout))[prefix.Length..].Trim());
}
