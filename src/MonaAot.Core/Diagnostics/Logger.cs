using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Runtime.CompilerServices;

namespace MonaAot.Diagnostics;

/// <summary>One log record. <see cref="File"/> is a script path or a C# file name.</summary>
public readonly record struct LogEntry(DateTime Time, LogLevel Level, string File, int Line, string Message)
{
    /// <summary>The line sinks print: <c>HH:mm:ss.fff LEVEL file[line] message</c>.</summary>
    public string Format() =>
        string.Create(CultureInfo.InvariantCulture, $"{Time:HH:mm:ss.fff} {LogLevels.Label(Level),-6} {File}[{Line}] {Message}");

    /// <summary>The line of a worker of <c>[server] workers</c>: <c>HH:mm:ss.fff LEVEL [wN] file[line] message</c>.</summary>
    public string Format(int worker) =>
        string.Create(CultureInfo.InvariantCulture, $"{Time:HH:mm:ss.fff} {LogLevels.Label(Level),-6} [w{worker}] {File}[{Line}] {Message}");
}

/// <summary>Where log lines go (console, rotated files, a test's list).</summary>
public interface ILogSink
{
    void Write(in LogEntry entry);

    /// <summary>A line already formatted elsewhere: a worker's, which its supervisor writes
    /// (docs/architecture.md, "Workers"). Sinks that keep entries, not text, ignore it.</summary>
    void WriteLine(string line)
    {
    }
}

/// <summary>
/// Filters by level and fans out to sinks. Thread-safe: the loop logs, and so do the threads
/// that resolve names or send mail.
/// </summary>
public sealed class Logger
{
    private readonly object _gate = new();
    private readonly List<ILogSink> _sinks = new();

    public Logger(LogLevel level = LogLevels.Default) => Level = level;

    public LogLevel Level { get; set; }

    public void AddSink(ILogSink sink)
    {
        lock (_gate)
            _sinks.Add(sink);
    }

    public bool IsEnabled(LogLevel level) => level != LogLevel.None && level <= Level;

    public void Log(LogLevel level, string file, int line, string message)
    {
        if (!IsEnabled(level))
            return;
        var entry = new LogEntry(DateTime.Now, level, file, line, message);
        lock (_gate)
        {
            foreach (ILogSink sink in _sinks)
            {
                try
                {
                    sink.Write(in entry);
                }
                catch (IOException)
                {
                    // A full disk or a closed console must not take the server down with it.
                }
            }
        }
    }

    /// <summary>Writes <paramref name="line"/> as it is to every sink, under the same lock as
    /// entries, so that lines from several sources never interleave.</summary>
    public void WriteLine(string line)
    {
        lock (_gate)
        {
            foreach (ILogSink sink in _sinks)
            {
                try
                {
                    sink.WriteLine(line);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    public void Fatal(string message, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => LogHere(LogLevel.Fatal, message, file, line);
    public void Critic(string message, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => LogHere(LogLevel.Critic, message, file, line);
    public void Error(string message, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => LogHere(LogLevel.Error, message, file, line);
    public void Warn(string message, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => LogHere(LogLevel.Warn, message, file, line);
    public void Note(string message, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => LogHere(LogLevel.Note, message, file, line);
    public void Info(string message, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => LogHere(LogLevel.Info, message, file, line);
    public void Debug(string message, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) => LogHere(LogLevel.Debug, message, file, line);

    private void LogHere(LogLevel level, string message, string file, int line)
    {
        if (IsEnabled(level))
            Log(level, Path.GetFileName(file), line, message);
    }
}
