using System.Collections.Generic;
using System.Diagnostics;

namespace MonaAot.Tests.Support;

/// <summary>What every child process of the tests shares (the published binary, TLS peers):
/// its three standard streams redirected, output and error read line by line from the start.</summary>
public static class ChildProcess
{
    /// <summary>A process for <paramref name="command"/>, not started: attach the line handlers,
    /// then <see cref="Begin"/>.</summary>
    public static Process Create(string command, IEnumerable<string> args, IEnumerable<KeyValuePair<string, string?>>? environment = null)
    {
        var info = new ProcessStartInfo(command)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
            info.ArgumentList.Add(arg);
        foreach ((string name, string? value) in environment ?? [])
            info.Environment[name] = value;
        return new Process { StartInfo = info, EnableRaisingEvents = true };
    }

    /// <summary>Starts it and its line readers.</summary>
    public static void Begin(Process process)
    {
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }
}
