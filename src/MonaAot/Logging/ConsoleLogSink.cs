using System;
using System.IO;
using System.Text;
using MonaAot.Diagnostics;

namespace MonaAot.Logging;

/// <summary>Log lines to standard output, flushed per line so that a supervisor (or a test)
/// reading the pipe sees each line as it happens.</summary>
public sealed class ConsoleLogSink : ILogSink
{
    private readonly TextWriter _out;

    public ConsoleLogSink(TextWriter? output = null) =>
        _out = output ?? new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };

    public void Write(in LogEntry entry) => _out.WriteLine(entry.Format());
}
