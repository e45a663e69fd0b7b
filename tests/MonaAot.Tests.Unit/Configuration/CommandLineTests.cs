using System.Threading.Tasks;
using MonaAot.Configuration;
using MonaAot.Diagnostics;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Configuration;

public class CommandLineTests
{
    [Test]
    public async Task Parse_AllOptionForms_AreRead()
    {
        CommandLine a = CommandLine.Parse(["--config=a.ini", "--log=7", "site"]);
        CommandLine b = CommandLine.Parse(["--config", "b.ini", "--log", "0"]);

        await Assert.That(a.ConfigPath).IsEqualTo("a.ini");
        await Assert.That(a.LogLevel).IsEqualTo(LogLevel.Debug);
        await Assert.That(a.WwwDirectory).IsEqualTo("site");
        await Assert.That(b.ConfigPath).IsEqualTo("b.ini");
        await Assert.That(b.LogLevel).IsEqualTo(LogLevel.None);
        await Assert.That(b.WwwDirectory).IsNull();
    }

    [Test]
    [Arguments(new[] { "--bogus" }, "unknown option '--bogus'")]
    [Arguments(new[] { "--log=9" }, "--log takes a level from 0 to 8, got '9'")]
    [Arguments(new[] { "--log=x" }, "--log takes a level from 0 to 8, got 'x'")]
    [Arguments(new[] { "--config" }, "--config needs a value")]
    [Arguments(new[] { "--config=" }, "--config needs a file name")]
    [Arguments(new[] { "a", "b" }, "unexpected argument 'b': only one www folder can be given")]
    public async Task Parse_BadArguments_SayWhy(string[] args, string message)
    {
        ConfigurationException? error = null;
        try
        {
            CommandLine.Parse(args);
        }
        catch (ConfigurationException e)
        {
            error = e;
        }

        await Assert.That(error!.Message).IsEqualTo(message);
    }

    [Test]
    public async Task Parse_HelpAndVersion_AreFlags()
    {
        await Assert.That(CommandLine.Parse(["--help"]).Help).IsTrue();
        await Assert.That(CommandLine.Parse(["--version"]).Version).IsTrue();
    }
}
