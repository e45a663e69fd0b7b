using System;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.EndToEnd;

/// <summary>Command line and configuration errors: one line on stderr, exit code 2, nothing started.</summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class CommandLineProcessTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private static async Task ExpectUsageError(string expectedStderr, params string[] args)
    {
        (int code, string output, string error) = await MonaProcess.RunToEnd(Wait, args);

        await Assert.That(code).IsEqualTo(2);
        await Assert.That(error).IsEqualTo(expectedStderr);
        await Assert.That(output).IsEqualTo("");
    }

    [Test]
    public async Task UnknownOption_ExitsTwo() =>
        await ExpectUsageError("monaaot: unknown option '--nope'", "--nope");

    [Test]
    public async Task BadLogLevel_ExitsTwo() =>
        await ExpectUsageError("monaaot: --log takes a level from 0 to 8, got '12'", "--log=12");

    [Test]
    public async Task MissingNamedConfig_ExitsTwo() =>
        await ExpectUsageError("monaaot: configuration file not found: /nonexistent/monaaot.ini", "--config=/nonexistent/monaaot.ini");

    [Test]
    public async Task MissingWww_ExitsTwo() =>
        await ExpectUsageError("monaaot: www folder not found: /nonexistent/www", "/nonexistent/www");

    [Test]
    public async Task WwwIsAFile_ExitsTwo()
    {
        using var www = new TempWww();
        string file = www.WriteApp("", "NOTE('must not run')");

        await ExpectUsageError($"monaaot: www is not a folder: {file}", file);
    }

    [Test]
    public async Task UnknownConfigKey_WarnsWithFileAndLine_AndStarts()
    {
        using var www = new TempWww();
        www.WriteApp("", "NOTE('root up')");
        string ini = www.WriteIni("[tcp]\nidleTimout = 5\n[echo]\nprot = 7000\n");
        await using MonaProcess mona = MonaProcess.Start("--config", ini, www.Www);

        await mona.WaitForLine("root up", Wait);

        string[] warnings = mona.Lines.FindAll(l => l.Contains("WARN")).ToArray();
        await Assert.That(warnings.Length).IsEqualTo(1);
        await Assert.That(warnings[0]).EndsWith($"WARN   {ini}[2] unknown key 'idleTimout' in [tcp] (did you mean 'idleTimeout'?)");
    }

    [Test]
    public async Task WwwWithoutMainLua_WarnsNothingToServe()
    {
        using var www = new TempWww();
        System.IO.Directory.CreateDirectory(System.IO.Path.Combine(www.Www, "empty"));
        await using MonaProcess mona = MonaProcess.Start(www.Www);

        string line = await mona.WaitForLineText("nothing to serve", Wait);

        await Assert.That(line).Contains($"WARN   ApplicationHost.cs[");
        await Assert.That(line).EndsWith($"no main.lua under {www.Www}: nothing to serve");
    }

    [Test]
    public async Task MalformedIni_ExitsTwoWithLine()
    {
        using var www = new TempWww();
        www.WriteApp("", "NOTE('must not run')");
        string ini = www.WriteIni("[ok]\na=1\nbroken line\n");

        await ExpectUsageError($"monaaot: {ini}:3: malformed line 'broken line' (expected key=value)", "--config", ini, www.Www);
    }

    [Test]
    public async Task BadLogsSetting_ExitsTwoWithLine()
    {
        using var www = new TempWww();
        string ini = www.WriteIni("[logs]\nrotation=none\n");

        await ExpectUsageError($"monaaot: {ini}:2: logs.rotation must be an integer from 1 to 1000, got 'none'", "--config", ini, www.Www);
    }

    [Test]
    [Arguments("[smtp]\ntls=sometimes\n", "2: smtp.tls must be auto, starttls, ssl or none, got 'sometimes'")]
    [Arguments("[smtp]\nport=0\n", "2: smtp.port must be an integer from 1 to 65535, got '0'")]
    [Arguments("[smtp]\n\ntimeout=forever\n", "3: smtp.timeout must be an integer from 1 to 3600, got 'forever'")]
    public async Task BadSmtpSetting_ExitsTwoWithLine(string text, string expected)
    {
        using var www = new TempWww();
        string ini = www.WriteIni(text);

        await ExpectUsageError($"monaaot: {ini}:{expected}", "--config", ini, www.Www);
    }

    [Test]
    public async Task Help_PrintsUsage_ExitsZero()
    {
        (int code, string output, _) = await MonaProcess.RunToEnd(Wait, "--help");

        await Assert.That(code).IsEqualTo(0);
        await Assert.That(output).StartsWith("Usage: monaaot [options] [WWW_DIR]");
    }

    [Test]
    public async Task Version_PrintsVersion_ExitsZero()
    {
        (int code, string output, _) = await MonaProcess.RunToEnd(Wait, "--version");

        await Assert.That(code).IsEqualTo(0);
        // Version, commit (the build's, or "unknown" outside a git checkout) and platform.
        await Assert.That(output.Trim()).Matches(@"^monaaot \d+\.\d+\.\d+ \(commit ([0-9a-f]{7}|unknown), linux-(x64|arm64)\)$");
    }
}
