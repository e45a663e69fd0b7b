using System;
using System.Threading.Tasks;
using MonaAot.Diagnostics;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Diagnostics;

public class LoggerTests
{
    [Test]
    public async Task Log_BelowLevel_IsDropped()
    {
        var sink = new ListLogSink();
        var logger = new Logger(LogLevel.Warn);
        logger.AddSink(sink);

        logger.Log(LogLevel.Error, "f", 1, "kept error");
        logger.Log(LogLevel.Warn, "f", 1, "kept warn");
        logger.Log(LogLevel.Note, "f", 1, "dropped note");
        logger.Log(LogLevel.Info, "f", 1, "dropped info");

        await Assert.That(sink.Messages).IsEquivalentTo(new[] { "kept error", "kept warn" });
    }

    [Test]
    public async Task Log_LevelNone_DropsEverything()
    {
        var sink = new ListLogSink();
        var logger = new Logger(LogLevel.None);
        logger.AddSink(sink);

        logger.Log(LogLevel.Fatal, "f", 1, "x");

        await Assert.That(sink.Entries.Count).IsEqualTo(0);
    }

    [Test]
    public async Task Format_ShowsTimeLevelFileLineMessage()
    {
        var entry = new LogEntry(new DateTime(2026, 1, 2, 3, 4, 5, 678), LogLevel.Warn, "a/main.lua", 12, "hello");

        await Assert.That(entry.Format()).IsEqualTo("03:04:05.678 WARN   a/main.lua[12] hello");
    }
}
