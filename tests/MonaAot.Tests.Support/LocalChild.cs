using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

namespace MonaAot.Tests.Support;

/// <summary>A <see cref="LinuxChild"/> where .NET's Process can run it: the test program is a
/// Linux one (or a Windows one on real Windows, with openssl and python3 on its PATH).</summary>
internal sealed class LocalChild : LinuxChild
{
    private readonly Process _process;

    private LocalChild(Process process) => _process = process;

    public static LocalChild Run(string command, IEnumerable<string> args, Action<string?, bool> onLine, string? workingDirectory)
    {
        Process process = ChildProcess.Create(command, args);
        if (workingDirectory != null)
            process.StartInfo.WorkingDirectory = workingDirectory;
        process.OutputDataReceived += (_, e) => onLine(e.Data, false);
        process.ErrorDataReceived += (_, e) => onLine(e.Data, true);
        ChildProcess.Begin(process);
        return new LocalChild(process);
    }

    public override int Id => _process.Id;

    public override void WriteInput(string text)
    {
        _process.StandardInput.Write(text);
        _process.StandardInput.Flush();
    }

    public override void CloseInput() => _process.StandardInput.Close();

    public override async Task<int> WaitForExit(CancellationToken cancel)
    {
        await _process.WaitForExitAsync(cancel);
        return _process.ExitCode;
    }

    public override async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
        }
        catch (TimeoutException)
        {
        }
        _process.Dispose();
    }
}
