using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace MonaAot.Tests.Support;

/// <summary>
/// A <see cref="LinuxChild"/> for the Windows test program under Wine. Wine 8 can start a Linux
/// program given to CreateProcess, but as a Unix process outside Wine's process table (no
/// process handle: .NET's Process.Start returns null, so no id, no wait, no exit code, no kill;
/// no redirection of its standard handles), and starting them while other threads made and
/// closed handles left handles of the test program invalid. So the program under Wine starts
/// none: tests/wine/spawner.py, a Linux process that wine.sh runs beside it, starts a small
/// python3 launcher on its request, and the launcher connects back to the test program over
/// loopback TCP: one connection (stdio) becomes the child's standard input, output and error;
/// the other (control) carries "pid N", then "exit N" (or "failed ..."), and its close makes the
/// launcher kill the child by that pid (dispose, or the test program's death: no leaked peers).
/// </summary>
internal sealed class WineChild : LinuxChild
{
    private const string Launcher = """
        import socket, subprocess, sys, threading
        port, cwd, command = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
        if command[0] == 'python3':
            command[0] = sys.executable  # the interpreter the spawner found
        control = socket.create_connection(('127.0.0.1', port))
        control.sendall(b'c')
        stdio = socket.create_connection(('127.0.0.1', port))
        stdio.sendall(b's')
        try:
            child = subprocess.Popen(command, cwd=cwd, stdin=stdio, stdout=stdio, stderr=stdio)
        except OSError as e:
            control.sendall(('failed %s\n' % e).encode())
            sys.exit(1)
        finally:
            stdio.close()  # the child's copy only: its end is the end of the output
        control.sendall(('pid %d\n' % child.pid).encode())
        def watch():
            control.recv(1)  # the test program closed the control connection (or ended)
            child.kill()
        threading.Thread(target=watch, daemon=True).start()
        control.sendall(('exit %d\n' % child.wait()).encode())
        """;

    private static readonly TimeSpan StartBound = TimeSpan.FromSeconds(30);

    private readonly Socket _control;
    private readonly Socket _stdio;
    private readonly StreamReader _controlReader;
    private readonly TaskCompletionSource<int> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _controlTask = Task.CompletedTask;
    private Task _outputTask = Task.CompletedTask;

    private WineChild(Socket control, Socket stdio, int id)
    {
        _control = control;
        _stdio = stdio;
        _controlReader = new StreamReader(new NetworkStream(control, ownsSocket: false), Encoding.UTF8);
        Id = id;
    }

    public override int Id { get; }

    public static WineChild Run(string command, IEnumerable<string> args, Action<string?, bool> onLine, string unixWorkingDirectory)
    {
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(2);
        var argv = new List<string> { "python3", "-c", Launcher, ((IPEndPoint)listener.LocalEndPoint!).Port.ToString(), unixWorkingDirectory, command };
        argv.AddRange(args);
        Spawn(argv, command);

        Socket? control = null, stdio = null;
        try
        {
            for (int i = 0; i < 2; i++)
            {
                if (!listener.Poll(StartBound, SelectMode.SelectRead))
                    throw new TimeoutException($"the launcher of {command} did not connect within {StartBound}");
                Socket accepted = listener.Accept();
                accepted.ReceiveTimeout = (int)StartBound.TotalMilliseconds;
                var tag = new byte[1];
                if (accepted.Receive(tag) != 1)
                    throw new InvalidOperationException($"the launcher of {command} closed before saying which connection it made");
                if (tag[0] == (byte)'c')
                    control = accepted;
                else
                    stdio = accepted;
            }
            if (control is null || stdio is null)
                throw new InvalidOperationException($"the launcher of {command} made two connections of one kind");
            stdio.ReceiveTimeout = 0;
            string first = ReadControlLine(control) ?? "the launcher ended";
            if (!first.StartsWith("pid ", StringComparison.Ordinal))
                throw new InvalidOperationException($"{command}: {first}");
            control.ReceiveTimeout = 0;
            var child = new WineChild(control, stdio, int.Parse(first["pid ".Length..]));
            child._outputTask = Task.Run(() => child.ReadOutput(onLine));
            child._controlTask = Task.Run(child.ReadControl);
            return child;
        }
        catch
        {
            control?.Dispose();
            stdio?.Dispose();
            throw;
        }
    }

    /// <summary>Has tests/wine/spawner.py, a Linux process that wine.sh started, start the
    /// launcher: the program under Wine starts no Linux program itself.</summary>
    private static void Spawn(List<string> argv, string command)
    {
        string? port = Environment.GetEnvironmentVariable("MONAAOT_WINE_SPAWNER");
        if (string.IsNullOrEmpty(port))
            throw new InvalidOperationException("the Linux peers under Wine need tests/wine/spawner.py: run the Windows tests through tests/wine/wine.sh");
        using var spawner = new Socket(SocketType.Stream, ProtocolType.Tcp);
        spawner.ReceiveTimeout = (int)StartBound.TotalMilliseconds;
        spawner.Connect(new IPEndPoint(IPAddress.Loopback, int.Parse(port)));
        spawner.Send(Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(argv) + "\n"));
        string answer = ReadControlLine(spawner) ?? "the spawner closed the connection";
        if (answer != "ok")
            throw new InvalidOperationException($"cannot start {command}: {answer}");
    }

    /// <summary>The first control line, read byte by byte so that nothing after it is taken
    /// from the socket before the control reader exists.</summary>
    private static string? ReadControlLine(Socket control)
    {
        var line = new List<byte>();
        var one = new byte[1];
        while (control.Receive(one) == 1)
        {
            if (one[0] == (byte)'\n')
                return Encoding.UTF8.GetString(line.ToArray());
            line.Add(one[0]);
        }
        return null;
    }

    private async Task ReadOutput(Action<string?, bool> onLine)
    {
        try
        {
            using var reader = new StreamReader(new NetworkStream(_stdio, ownsSocket: false), Encoding.UTF8);
            string? line;
            while ((line = await reader.ReadLineAsync()) != null)
                onLine(line, false);
        }
        catch (IOException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        // One stream for both: the child's output and error are the same socket.
        onLine(null, false);
        onLine(null, true);
    }

    private async Task ReadControl()
    {
        try
        {
            string? line;
            while ((line = await _controlReader.ReadLineAsync()) != null)
            {
                if (line.StartsWith("exit ", StringComparison.Ordinal))
                    _exit.TrySetResult(int.Parse(line["exit ".Length..]));
            }
        }
        catch (IOException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        _exit.TrySetException(new InvalidOperationException("the launcher ended without the child's exit code"));
    }

    public override void WriteInput(string text) => _stdio.Send(Encoding.UTF8.GetBytes(text));

    public override void CloseInput() => _stdio.Shutdown(SocketShutdown.Send);

    public override Task<int> WaitForExit(CancellationToken cancel) => _exit.Task.WaitAsync(cancel);

    public override async ValueTask DisposeAsync()
    {
        // The control connection's end is the launcher's order to kill the child (if it still
        // runs); its exit line, or the launcher's end, says it is done.
        try
        {
            _control.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
        }
        try
        {
            await _controlTask.WaitAsync(TimeSpan.FromSeconds(10));
            await _outputTask.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
        }
        _control.Dispose();
        _stdio.Dispose();
        _controlReader.Dispose();
    }
}
