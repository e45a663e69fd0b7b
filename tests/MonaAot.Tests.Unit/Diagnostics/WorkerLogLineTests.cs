using System;
using System.IO;
using System.Threading.Tasks;
using MonaAot.Diagnostics;
using MonaAot.Logging;
using MonaAot.Workers;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Diagnostics;

/// <summary>A worker's log lines on the pipe to its supervisor (docs/architecture.md, "Workers").</summary>
public class WorkerLogLineTests
{
    private static string[] LinesOf(int worker, string message)
    {
        var output = new StringWriter { NewLine = "\n" };
        new ConsoleLogSink(output, worker).Write(new LogEntry(new DateTime(2026, 12, 5, 12, 0, 0), LogLevel.Info, "main.lua", 3, message));
        return output.ToString().TrimEnd('\n').Split('\n');
    }

    [Test]
    public async Task AWorkersLine_NamesTheWorkerAfterTheLevel() =>
        await Assert.That(LinesOf(2, "hello")[0]).IsEqualTo("12:00:00.000 INFO   [w2] main.lua[3] hello");

    [Test]
    public async Task AMessage_CannotPassForANoteToTheSupervisor()
    {
        // A script that logs a newline and the note's mark would otherwise forge READY=1.
        string[] lines = LinesOf(1, "x\n" + WorkerChannel.Mark + WorkerChannel.Ready);
        await Assert.That(lines.Length).IsEqualTo(2);
        foreach (string line in lines)
            await Assert.That(WorkerChannel.StateOf(line)).IsNull();
    }

    [Test]
    public async Task WithoutWorkers_TheLineIsUnchanged() =>
        await Assert.That(LinesOf(0, "a\u001eb")[0]).IsEqualTo("12:00:00.000 INFO   main.lua[3] a\u001eb");

    [Test]
    public async Task ANote_IsReadBack() =>
        await Assert.That(WorkerChannel.StateOf(WorkerChannel.Mark + WorkerChannel.Ready)).IsEqualTo("READY=1");
}
