using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace MonaAot.Tests.Support;

/// <summary>
/// A Linux program the tests start as a peer or a tool (openssl, python3), the same way whether
/// the test program is the Linux build or the Windows build under Wine: its output and error
/// read line by line, its input open for the test to write to, its exit code, and dispose ends
/// it by its process id. Under Wine, .NET's Process cannot do this for a Linux program
/// (<see cref="WineChild"/> says why and what it does instead); elsewhere it is a Process
/// (<see cref="LocalChild"/>). Paths given to it as arguments must be
/// <see cref="Wine.UnixPath"/>s.
/// </summary>
public abstract class LinuxChild : IAsyncDisposable
{
    /// <summary>Starts <paramref name="command"/> (a name found on the Linux PATH; "python3" is
    /// the interpreter the machine's python3 resolves to) in <paramref name="workingDirectory"/>
    /// (the test program's view of it) or the current folder. <paramref name="onLine"/> gets each
    /// line with whether it came from standard error, then (null, false) and (null, true) once
    /// each stream ended.</summary>
    public static LinuxChild Start(string command, IEnumerable<string> args, Action<string?, bool> onLine, string? workingDirectory = null) =>
        Wine.IsRunning
            ? WineChild.Run(command, args, onLine, Wine.UnixPath(workingDirectory ?? Environment.CurrentDirectory))
            : LocalChild.Run(command, args, onLine, workingDirectory);

    /// <summary>The Linux process id.</summary>
    public abstract int Id { get; }

    public abstract void WriteInput(string text);

    /// <summary>The end of its standard input.</summary>
    public abstract void CloseInput();

    /// <summary>Waits for the exit; returns the exit code (negative: the signal that ended it,
    /// under Wine).</summary>
    public abstract Task<int> WaitForExit(CancellationToken cancel);

    /// <summary>Kills it if it still runs, and waits for that (bounded).</summary>
    public abstract ValueTask DisposeAsync();
}
