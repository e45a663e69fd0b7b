using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace MonaAot.Tests.Support;

/// <summary>
/// A TLS peer that is not MonaAot: openssl s_server / s_client or a python3 ssl script run as a
/// Linux child process (<see cref="LinuxChild"/>: from the Linux test programs, and from the
/// Windows one under Wine), its standard output and error read line by line into one list, its
/// standard input kept open for the test to write to. Tests wait for lines, never for time;
/// dispose kills the process if it still runs. File paths among the arguments must be
/// <see cref="Wine.UnixPath"/>s.
/// </summary>
public sealed class TlsPeer : IAsyncDisposable
{
    private LinuxChild _child = null!;
    private readonly List<string> _lines = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _errorClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private TlsPeer()
    {
    }

    public static TlsPeer Start(string command, params string[] args)
    {
        var peer = new TlsPeer();
        peer._child = LinuxChild.Start(command, args, (line, error) => peer.OnLine(line, error ? peer._errorClosed : peer._outputClosed));
        return peer;
    }

    /// <summary>python3 -c <paramref name="script"/> with its arguments.</summary>
    public static TlsPeer Python(string script, params string[] args)
    {
        var all = new List<string> { "-c", script };
        all.AddRange(args);
        return Start("python3", all.ToArray());
    }

    /// <summary>Runs python3 -c <paramref name="script"/> to its end; returns its output lines.</summary>
    public static async Task<List<string>> RunPython(TimeSpan timeout, string script, params string[] args)
    {
        await using TlsPeer peer = Python(script, args);
        peer.CloseInput();
        await peer.WaitForExit(timeout);
        return peer.Lines;
    }

    public int Id => _child.Id;

    public List<string> Lines
    {
        get
        {
            lock (_lines)
                return new List<string>(_lines);
        }
    }

    public string Output => string.Join("\n", Lines);

    private void OnLine(string? line, TaskCompletionSource closed)
    {
        TaskCompletionSource changed;
        lock (_lines)
        {
            if (line is null)
                closed.TrySetResult();
            else
                _lines.Add(line);
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
    }

    /// <summary>Waits for a line containing <paramref name="text"/>; returns it. Throws
    /// TimeoutException with the output so far.</summary>
    public async Task<string> WaitForLine(string text, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        while (true)
        {
            Task changed;
            lock (_lines)
            {
                foreach (string line in _lines)
                {
                    if (line.Contains(text, StringComparison.Ordinal))
                        return line;
                }
                changed = _changed.Task;
            }
            try
            {
                await changed.WaitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"peer: no line with '{text}' within {timeout}; output:\n{Output}");
            }
        }
    }

    public void WriteLine(string text)
    {
        _child.WriteInput(text + "\n");
    }

    public void CloseInput() => _child.CloseInput();

    /// <summary>Waits for the exit and the end of its output; returns the exit code.</summary>
    public async Task<int> WaitForExit(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            int code = await _child.WaitForExit(cancel.Token);
            await Task.WhenAll(_outputClosed.Task, _errorClosed.Task).WaitAsync(cancel.Token);
            return code;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"peer did not end within {timeout}; output:\n{Output}");
        }
    }

    public ValueTask DisposeAsync() => _child.DisposeAsync();

    /// <summary>openssl s_server on 127.0.0.1, a port of the system's choosing (read from its
    /// ACCEPT line), serving one connection; what it receives goes to its output, what the test
    /// writes to its input goes to the client.</summary>
    public static async Task<(TlsPeer Server, int Port)> SServer(params string[] options)
    {
        var args = new List<string> { "s_server", "-accept", "127.0.0.1:0", "-naccept", "1" };
        args.AddRange(options);
        TlsPeer server = Start("openssl", args.ToArray());
        try
        {
            string line = await server.WaitForLine("ACCEPT ", TimeSpan.FromSeconds(20));
            return (server, int.Parse(line[(line.LastIndexOf(':') + 1)..]));
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }
}
