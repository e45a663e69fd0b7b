using System;
using System.Linq;
using System.Threading.Tasks;
using MonaAot.Configuration;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.Configuration;

/// <summary>Unknown keys in the sections MonaAot reads are warned about (issue 13); other
/// sections belong to scripts and stay silent.</summary>
public class ConfigKeysTests
{
    private static string[] Warnings(string text) =>
        ServerSettings.UnknownKeys(IniFile.Parse(text, "test.ini")).Select(w => w.ToString()).ToArray();

    [Test]
    public async Task UnknownKey_InAKnownSection_WarnsWithFileLineAndTheLikelyKey() =>
        await Assert.That(Warnings("[tcp]\nsendLimit = 2048\nidleTimout = 5\n"))
            .IsEquivalentTo(new[] { "test.ini:3: unknown key 'idleTimout' in [tcp] (did you mean 'idleTimeout'?)" });

    [Test]
    public async Task UnknownKey_AtTheTopLevel_Warns() =>
        await Assert.That(Warnings("wwww = site\n[lua]\nmemoryLimit = 0\n"))
            .IsEquivalentTo(new[] { "test.ini:1: unknown key 'wwww' at the top level (did you mean 'www'?)" });

    [Test]
    public async Task UnknownKey_FarFromEveryKnownOne_WarnsWithoutAGuess() =>
        await Assert.That(Warnings("[smtp]\nsender = me@example.com\n"))
            .IsEquivalentTo(new[] { "test.ini:2: unknown key 'sender' in [smtp]" });

    [Test]
    public async Task ScriptSections_AndKnownKeysInAnyCase_AreSilent() =>
        await Assert.That(Warnings("www = site\n[echo]\nport = 7000\nanything = 1\n[TCP]\nIDLETIMEOUT = 5\n[logs]\nmaxSize = 2048\n")).IsEmpty();

    [Test]
    public async Task KnownKeys_CoverEverySectionMonaAotReads() =>
        await Assert.That(ServerSettings.KnownKeys.Keys.OrderBy(k => k).ToArray())
            .IsEquivalentTo(new[] { "", "logs", "lua", "metrics", "server", "smtp", "tcp", "tls" });

    [Test]
    [Arguments("", 10)]
    [Arguments("[server]\ndrainTimeout = 0\n", 0)]
    [Arguments("[server]\ndrainTimeout = 3600\n", 3600)]
    public async Task Server_DrainTimeout_IsInSeconds_TenByDefault(string ini, int expected) =>
        await Assert.That(ServerSettings.DrainTimeoutOf(IniFile.Parse(ini, "test.ini"))).IsEqualTo(expected);

    [Test]
    [Arguments("-1")]
    [Arguments("3601")]
    [Arguments("soon")]
    public async Task Server_DrainTimeout_ABadValueIsOneLine(string value)
    {
        ConfigurationException? error = null;
        try
        {
            ServerSettings.DrainTimeoutOf(IniFile.Parse($"[server]\ndrainTimeout = {value}\n", "test.ini"));
        }
        catch (ConfigurationException e)
        {
            error = e;
        }
        await Assert.That(error?.Message).IsEqualTo($"test.ini:2: server.drainTimeout must be an integer from 0 to 3600, got '{value}'");
    }

    [Test]
    [Arguments("", 1)]
    [Arguments("[server]\nworkers = 1\n", 1)]
    public async Task Server_Workers_OneByDefault(string ini, int expected) =>
        await Assert.That(ServerSettings.WorkersOf(IniFile.Parse(ini, "test.ini"))).IsEqualTo(expected);

    [Test]
    [RunOn(OS.Linux)]
    [Arguments("4", 4)]
    [Arguments("256", 256)]
    [Arguments("auto", -1)]
    [Arguments("AUTO", -1)]
    public async Task Server_Workers_ANumberOrOnePerCpu(string value, int expected) =>
        await Assert.That(ServerSettings.WorkersOf(IniFile.Parse($"[server]\nworkers = {value}\n", "test.ini")))
            .IsEqualTo(expected > 0 ? expected : Math.Min(Environment.ProcessorCount, ServerSettings.MaxWorkers));

    [Test]
    [RunOn(OS.Windows)]
    public async Task Server_Workers_AreRefusedOnWindows()
    {
        ConfigurationException? error = null;
        try
        {
            ServerSettings.WorkersOf(IniFile.Parse("[server]\nworkers = 2\n", "test.ini"));
        }
        catch (ConfigurationException e)
        {
            error = e;
        }
        await Assert.That(error?.Message).IsEqualTo("test.ini:2: server.workers = 2: workers are not available on Windows (no SO_REUSEPORT); remove the key or set it to 1");
    }

    [Test]
    [Arguments("0")]
    [Arguments("-2")]
    [Arguments("257")]
    [Arguments("+3")]
    [Arguments("many")]
    public async Task Server_Workers_ABadValueIsOneLine(string value)
    {
        ConfigurationException? error = null;
        try
        {
            ServerSettings.WorkersOf(IniFile.Parse($"[server]\nworkers = {value}\n", "test.ini"));
        }
        catch (ConfigurationException e)
        {
            error = e;
        }
        await Assert.That(error?.Message).IsEqualTo($"test.ini:2: server.workers must be auto or an integer from 1 to 256, got '{value}'");
    }

    [Test]
    [Arguments("1/1", 1, 1)]
    [Arguments("2/3", 2, 3)]
    public async Task WorkerIdentity_ParsesNumberOfCount(string text, int number, int count) =>
        await Assert.That(MonaAot.Workers.WorkerIdentity.Parse(text)).IsEqualTo(new MonaAot.Workers.WorkerIdentity(number, count));

    [Test]
    [Arguments("")]
    [Arguments("3/2")]
    [Arguments("0/2")]
    [Arguments("1/0")]
    [Arguments("1")]
    [Arguments("/2")]
    [Arguments("1/2/3")]
    [Arguments("-1/2")]
    public async Task WorkerIdentity_Malformed_IsNull(string text) =>
        await Assert.That(MonaAot.Workers.WorkerIdentity.Parse(text)).IsNull();

    [Test]
    public async Task Tls_HandshakeTimeout_IsReadInSeconds_AndABadValueIsOneLine()
    {
        await Assert.That(ServerSettings.TcpLimitsOf(IniFile.Parse("[tls]\nhandshakeTimeout = 3\n", "test.ini")).TlsHandshakeTimeoutMs).IsEqualTo(3000);
        await Assert.That(ServerSettings.TcpLimitsOf(IniFile.Empty).TlsHandshakeTimeoutMs).IsEqualTo(10_000);
        ConfigurationException? error = null;
        try
        {
            ServerSettings.TcpLimitsOf(IniFile.Parse("[tls]\nhandshakeTimeout = 0\n", "test.ini"));
        }
        catch (ConfigurationException e)
        {
            error = e;
        }
        await Assert.That(error?.Message).StartsWith("test.ini:2: tls.handshakeTimeout must be");
    }

    [Test]
    [Arguments("", true)]
    [Arguments("[lua]\ncmodules = false\n", false)]
    [Arguments("[lua]\ncmodules = TRUE\n", true)]
    public async Task Lua_CModules_IsABoolean_TrueByDefault(string ini, bool expected) =>
        await Assert.That(ServerSettings.LuaLimitsOf(IniFile.Parse(ini, "test.ini")).CModules).IsEqualTo(expected);

    [Test]
    public async Task Lua_CModules_ABadValueIsOneLine()
    {
        ConfigurationException? error = null;
        try
        {
            ServerSettings.LuaLimitsOf(IniFile.Parse("[lua]\ncmodules = no\n", "test.ini"));
        }
        catch (ConfigurationException e)
        {
            error = e;
        }
        await Assert.That(error?.Message).IsEqualTo("test.ini:2: lua.cmodules must be true or false, got 'no'");
    }

    [Test]
    [Arguments("[tls]\ncertificate = cert.pem\n", "test.ini:2: tls.certificate and tls.key go together, got only tls.certificate")]
    [Arguments("[tls]\ncertificate = nowhere.pem\nkey = nowhere.key\n", "test.ini:2: tls.certificate: file not found: ")]
    public async Task Tls_Files_GoTogether_AndMustExist(string ini, string expected)
    {
        ConfigurationException? error = null;
        try
        {
            ServerSettings.TlsFilesOf(IniFile.Parse(ini, "test.ini"), System.IO.Path.GetTempPath());
        }
        catch (ConfigurationException e)
        {
            error = e;
        }
        await Assert.That(error?.Message).StartsWith(expected);
    }
}
