using System.Threading.Tasks;
using MonaAot.Configuration;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Configuration;

public class ConfigValueTests
{
    [Test]
    [Arguments("true", ConfigValue.Kind.Boolean)]
    [Arguments("FALSE", ConfigValue.Kind.Boolean)]
    [Arguments("25", ConfigValue.Kind.Integer)]
    [Arguments("-7", ConfigValue.Kind.Integer)]
    [Arguments("1.5", ConfigValue.Kind.Float)]
    [Arguments("1e3", ConfigValue.Kind.Float)]
    [Arguments("NaN", ConfigValue.Kind.String)]
    [Arguments("Infinity", ConfigValue.Kind.String)]
    [Arguments("1,5", ConfigValue.Kind.String)]
    [Arguments("localhost", ConfigValue.Kind.String)]
    [Arguments("", ConfigValue.Kind.String)]
    [Arguments("99999999999999999999", ConfigValue.Kind.Float)]
    public async Task Parse_TypesValue(string text, ConfigValue.Kind kind)
    {
        await Assert.That(ConfigValue.Parse(text).Type).IsEqualTo(kind);
    }
}
