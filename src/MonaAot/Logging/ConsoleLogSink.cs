using System;
using System.IO;
using System.Text;
using MonaAot.Diagnostics;

namespace MonaAot.Logging;

/// <summary>Log lines to standard output, flushed per line so that a supervisor (or a test)
/// reading the pipe sees each line as it happens. In a worker of <c>[server] workers</c>
/// (<paramref name="worker"/> &gt; 0) each line says which worker wrote it, and the supervisor,
/// which reads the pipe, is the one writer of the console and the log files.</summary>
public sealed class ConsoleLogSink : ILogSink
{
    /// <summary>What starts a worker's note to its supervisor on this stream (ASCII's record
    /// separator: Workers/WorkerChannel.cs), which a worker's log line therefore never holds.</summary>
    public const char NoteMark = '\u001e';

    private readonly TextWriter _out;
    private readonly int _worker;

    public ConsoleLogSink(TextWriter? output = null, int worker = 0)
    {
        _out = output ?? new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        _worker = worker;
    }

    public void Write(in LogEntry entry)
    {
        if (_worker == 0)
        {
            WriteLine(entry.Format());
            return;
        }
        // A message may hold newlines: no line of it may pass for a note to the supervisor
        // (WorkerChannel.Mark), whatever a script logs.
        string line = entry.Format(_worker);
        WriteLine(line.Contains(NoteMark) ? line.Replace(NoteMark, '\u241e') : line);
    }

    public void WriteLine(string line)
    {
        // A worker's notes to its supervisor (WorkerChannel) share the writer with the logger.
        lock (_out)
            _out.WriteLine(line);
    }
}
