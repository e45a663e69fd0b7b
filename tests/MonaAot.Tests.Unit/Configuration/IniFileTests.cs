using System.Threading.Tasks;
using MonaAot.Configuration;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Configuration;

public class IniFileTests
{
    [Test]
    public async Task Parse_SectionsCommentsAndValues_AreRead()
    {
        IniFile ini = IniFile.Parse("top = 1\n; comment\n# other comment\n\n[smtp]\n host = mail.local \nurl=http://x/?a=1;b=2#frag\n", "t.ini");

        await Assert.That(ini.Entries.Count).IsEqualTo(3);
        await Assert.That(ini.Entries[0].FlatKey).IsEqualTo("top");
        await Assert.That(ini.Find("smtp", "host")!.Value).IsEqualTo("mail.local");
        await Assert.That(ini.Find("SMTP", "URL")!.Value).IsEqualTo("http://x/?a=1;b=2#frag");
        await Assert.That(ini.Find("smtp", "host")!.FlatKey).IsEqualTo("smtp.host");
    }

    [Test]
    public async Task Parse_DuplicateKey_LastWins()
    {
        IniFile ini = IniFile.Parse("[a]\nk=1\nk=2\n", "t.ini");

        await Assert.That(ini.Find("a", "k")!.Value).IsEqualTo("2");
    }

    [Test]
    public async Task Parse_CrLfLines_AreTrimmed()
    {
        IniFile ini = IniFile.Parse("[a]\r\nk=v\r\n", "t.ini");

        await Assert.That(ini.Find("a", "k")!.Value).IsEqualTo("v");
    }

    [Test]
    [Arguments("[a]\njust words\n", 2)]
    [Arguments("k=1\n[unclosed\n", 2)]
    [Arguments("\n\n[]\n", 3)]
    [Arguments("=value\n", 1)]
    public async Task Parse_MalformedLine_NamesFileAndLine(string text, int line)
    {
        ConfigurationException? error = null;
        try
        {
            IniFile.Parse(text, "bad.ini");
        }
        catch (ConfigurationException e)
        {
            error = e;
        }

        await Assert.That(error).IsNotNull();
        await Assert.That(error!.Message).StartsWith($"bad.ini:{line}: malformed line");
    }

    [Test]
    public async Task GetInteger_OutOfRange_NamesKeyAndLine()
    {
        IniFile ini = IniFile.Parse("[logs]\nmaxSize=abc\n", "x.ini");

        ConfigurationException? error = null;
        try
        {
            ini.GetInteger("logs", "maxSize", 1, 1, 10);
        }
        catch (ConfigurationException e)
        {
            error = e;
        }

        await Assert.That(error!.Message).IsEqualTo("x.ini:2: logs.maxSize must be an integer from 1 to 10, got 'abc'");
    }
}
