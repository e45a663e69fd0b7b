using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace MonaAot.Tests.Support;

/// <summary>
/// The published out/monaaot started as a child process, its standard output read line by line.
/// Tests wait for lines (events), never for time; dispose kills the process if it still runs.
/// </summary>
public sealed partial class MonaProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = new();
    private readonly List<string> _errors = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private MonaProcess(Process process) => _process = process;

    public static string BinaryPath
    {
        get
        {
            string? fromBuild = Environment.GetEnvironmentVariable("MONAAOT_BINARY");
            if (!string.IsNullOrEmpty(fromBuild))
                return fromBuild;
            string? folder = AppContext.BaseDirectory;
            while (folder is not null && !File.Exists(Path.Combine(folder, "MonaAot.sln")))
                folder = Path.GetDirectoryName(folder);
            return Path.Combine(folder ?? ".", "out", "monaaot");
        }
    }

    public int Id => _process.Id;

    /// <summary>Starts the binary (through <see cref="Runner"/> when one is set).</summary>
    public static MonaProcess Start(params string[] args) => StartBinary(null, BinaryPath, args);

    /// <summary>Starts <paramref name="binary"/> (the published one, or a copy of it) through
    /// <see cref="Runner"/> when one is set, with these environment variables added.</summary>
    public static MonaProcess StartBinary(IEnumerable<KeyValuePair<string, string?>>? environment, string binary, params string[] args)
    {
        string[] command = Runner.Command(binary);
        return StartCommand(environment, command[0], [.. command[1..], .. args]);
    }

    /// <summary>The words that start the binary (the runner's, then its path), for a wrapper
    /// command that execs it (unshare, systemd-socket-activate).</summary>
    public static string[] BinaryCommand => Runner.Command(BinaryPath);

    /// <summary>Starts another command whose output is read the same way (a shell that sets
    /// limits, then execs the binary).</summary>
    public static MonaProcess StartCommand(string command, params string[] args) => StartCommand((IEnumerable<KeyValuePair<string, string?>>?)null, command, args);

    /// <summary>Starts <paramref name="command"/> with these environment variables added (a
    /// null value removes one): NOTIFY_SOCKET for the systemd tests.</summary>
    public static MonaProcess StartCommand(IEnumerable<KeyValuePair<string, string?>>? environment, string command, params string[] args)
    {
        Process process = ChildProcess.Create(command, args, environment);
        var mona = new MonaProcess(process);
        process.OutputDataReceived += (_, e) => mona.OnLine(e.Data, mona._lines);
        process.ErrorDataReceived += (_, e) => mona.OnLine(e.Data, mona._errors);
        ChildProcess.Begin(process);
        return mona;
    }

    /// <summary>Runs the binary to its end and returns exit code, stdout and stderr.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunToEnd(TimeSpan timeout, params string[] args)
    {
        await using MonaProcess mona = Start(args);
        int code = await mona.WaitForExit(timeout);
        return (code, string.Join("\n", mona.Lines), string.Join("\n", mona.ErrorLines));
    }

    public List<string> Lines
    {
        get
        {
            lock (_lines)
                return new List<string>(_lines);
        }
    }

    public List<string> ErrorLines
    {
        get
        {
            lock (_lines)
                return new List<string>(_errors);
        }
    }

    private void OnLine(string? line, List<string> into)
    {
        TaskCompletionSource changed;
        lock (_lines)
        {
            if (line is null)
            {
                if (into == _lines)
                    _outputClosed.TrySetResult();
            }
            else
            {
                into.Add(line);
            }
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
    }

    /// <summary>Waits for an output line containing <paramref name="text"/> after line
    /// <paramref name="from"/>; returns its index. Throws TimeoutException with the output so far.
    /// Every wait of this class is <see cref="Runner.Scale"/>d.</summary>
    public Task<int> WaitForLine(string text, TimeSpan timeout, int from = 0) => WaitForLineIn(_lines, text, timeout, from);

    /// <summary>Like <see cref="WaitForLine"/>, on standard error (what a wrapper such as
    /// systemd-socket-activate says before it execs the binary).</summary>
    public Task<int> WaitForErrorLine(string text, TimeSpan timeout, int from = 0) => WaitForLineIn(_errors, text, timeout, from);

    private async Task<int> WaitForLineIn(List<string> lines, string text, TimeSpan timeout, int from)
    {
        timeout = Runner.Scale(timeout);
        using var cancel = new CancellationTokenSource(timeout);
        while (true)
        {
            Task changed;
            lock (_lines)
            {
                for (int i = from; i < lines.Count; i++)
                {
                    if (lines[i].Contains(text, StringComparison.Ordinal))
                        return i;
                }
                changed = _changed.Task;
            }
            try
            {
                await changed.WaitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no line with '{text}' within {timeout}; output:\n{string.Join("\n", Lines)}\nstderr:\n{string.Join("\n", ErrorLines)}");
            }
        }
    }

    /// <summary>Like <see cref="WaitForLine"/>, returning the line itself.</summary>
    public async Task<string> WaitForLineText(string text, TimeSpan timeout, int from = 0)
    {
        int index = await WaitForLine(text, timeout, from);
        lock (_lines)
            return _lines[index];
    }

    /// <summary>Sends SIGTERM (or another signal).</summary>
    public void Signal(int signal = SIGTERM)
    {
        if (kill(_process.Id, signal) != 0)
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed");
    }

    /// <summary>Sends <paramref name="signal"/> to another process this test started (a worker
    /// of the binary); false when it is gone.</summary>
    public static bool Signal(int pid, int signal) => kill(pid, signal) == 0;

    public const int SIGINT = 2;
    public const int SIGTERM = 15;

    /// <summary>Waits for the exit and for the end of its output; returns the exit code.</summary>
    public async Task<int> WaitForExit(TimeSpan timeout)
    {
        timeout = Runner.Scale(timeout);
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        await _outputClosed.Task.WaitAsync(cancel.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
