using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using MonaAot.Diagnostics;

namespace MonaAot.Tests.Support;

/// <summary>Keeps log entries in memory for assertions.</summary>
public sealed class ListLogSink : ILogSink
{
    private readonly List<LogEntry> _entries = new();

    public void Write(in LogEntry entry)
    {
        lock (_entries)
            _entries.Add(entry);
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
}
