using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using KeraLua;
using MonaAot.Configuration;
using MonaAot.Lua;
using MonaAot.Lua.Runtime;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Docs;

/// <summary>
/// The reference (docs/api.md) cannot fall behind the binary: every name a script can reach
/// (the globals the server adds, every key of the <c>mona</c> table, every method, property and
/// event of each object type) and every configuration key MonaAot reads must have its entry
/// there, written in backticks. Methods are read from the live metatables; properties and events,
/// which Lua cannot enumerate, from each type's declared lists, which are in turn checked
/// against the Index functions and the events the C# code calls.
/// </summary>
public class ApiReferenceTests
{
    /// <summary>The source file of each Lua-visible type.</summary>
    private static readonly Dictionary<string, string> TypeSources = new()
    {
        ["TCPClient"] = "TcpClientObject.cs",
        ["TCPServer"] = "TcpServerObject.cs",
        ["UDPSocket"] = "UdpSocketObject.cs",
        ["Mail"] = "MailObject.cs",
        ["Timer"] = "TimerObject.cs",
    };

    private static string RepositoryFile(params string[] parts)
    {
        string? folder = AppContext.BaseDirectory;
        while (folder is not null && !File.Exists(Path.Combine(folder, "MonaAot.sln")))
            folder = Path.GetDirectoryName(folder);
        if (folder is null)
            throw new InvalidOperationException("the repository (MonaAot.sln) is not above " + AppContext.BaseDirectory);
        return Path.Combine([folder, .. parts]);
    }

    private static string ApiText() => File.ReadAllText(RepositoryFile("docs", "api.md"));

    /// <summary>The text of api.md from the heading <paramref name="heading"/> to the next
    /// heading of the same or a higher level.</summary>
    private static string Section(string api, string heading)
    {
        int level = heading.TakeWhile(c => c == '#').Count();
        int start = api.IndexOf("\n" + heading + "\n", StringComparison.Ordinal);
        if (start < 0)
            return "";
        start++;
        int end = start + heading.Length;
        while (true)
        {
            end = api.IndexOf("\n#", end, StringComparison.Ordinal);
            if (end < 0)
                return api[start..];
            int next = api[(end + 1)..].TakeWhile(c => c == '#').Count();
            if (next <= level && api[end + 1 + next] == ' ')
                return api[start..end];
            end++;
        }
    }

    private static bool HasToken(string text, string name) => text.Contains("`" + name + "`", StringComparison.Ordinal);

    /// <summary>Runs <paramref name="code"/> (which returns one string) in the harness's VM.</summary>
    private static string Eval(HostHarness harness, string code)
    {
        KeraLua.Lua lua = harness.Vm.State;
        int top = lua.GetTop();
        if (lua.LoadString(code, "=api-test") != LuaStatus.OK || lua.PCall(0, 1, 0) != LuaStatus.OK)
        {
            string error = lua.ToString(-1);
            lua.SetTop(top);
            throw new InvalidOperationException(error);
        }
        string result = lua.ToString(-1) ?? "";
        lua.SetTop(top);
        return result;
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The global names the server adds to a plain Lua state (the log functions, mona).</summary>
    [Test]
    public async Task EveryGlobalTheServerAdds_IsDocumented()
    {
        const string globals = "local t = {} for k in pairs(_G) do t[#t + 1] = tostring(k) end return table.concat(t, '\\n')";
        HashSet<string> standard;
        using (var plain = new LuaVm())
        {
            plain.State.DoString(globals);
            standard = [.. Lines(plain.State.ToString(-1))];
        }
        using var www = new TempWww();
        using var harness = new HostHarness(www);
        string[] added = [.. Lines(Eval(harness, globals)).Where(name => !standard.Contains(name)).Order()];
        string api = ApiText();

        await Assert.That(added).Contains("mona");
        await Assert.That(added).Contains("NOTE");
        string[] missing = [.. added.Where(name => !HasToken(api, name))];
        await Assert.That(missing).IsEmpty();
    }

    /// <summary>Every key of the global mona table, as `mona.key` or `mona:key`.</summary>
    [Test]
    public async Task EveryMonaKey_IsDocumented()
    {
        using var www = new TempWww();
        using var harness = new HostHarness(www);
        string[] keys = Lines(Eval(harness, "local t = {} for k in pairs(mona) do t[#t + 1] = tostring(k) end return table.concat(t, '\\n')"));
        string mona = Section(ApiText(), "## mona");
        string api = ApiText();

        await Assert.That(keys).Contains("createTCPClient");
        await Assert.That(keys).Contains("setTimer");
        string[] missing = [.. keys.Where(key => !HasToken(api, "mona." + key) && !HasToken(api, "mona:" + key)).Order()];
        await Assert.That(missing).IsEmpty();
        // and each has its place in the mona section
        string[] notInSection = [.. keys.Where(key => !mona.Contains("mona." + key, StringComparison.Ordinal)
                                                      && !mona.Contains("mona:" + key, StringComparison.Ordinal)).Order()];
        await Assert.That(notInSection).IsEmpty();
    }

    /// <summary>The object types, read from the registry: every metatable the server made
    /// (protected, with a closure as __index), its methods being upvalue 1 of that closure.</summary>
    private static Dictionary<string, string[]> MethodsFromMetatables(HostHarness harness)
    {
        string listing = Eval(harness, """
            local out = {}
            for _, mt in pairs(debug.getregistry()) do
              if type(mt) == "table" and type(rawget(mt, "__metatable")) == "string"
                 and type(rawget(mt, "__index")) == "function" then
                local _, methods = debug.getupvalue(rawget(mt, "__index"), 1)
                local names = {}
                for name in pairs(methods) do names[#names + 1] = name end
                out[#out + 1] = rawget(mt, "__name") .. "=" .. table.concat(names, ",")
              end
            end
            return table.concat(out, "\n")
            """);
        return Lines(listing).Select(line => line.Split('=')).ToDictionary(
            parts => parts[0], parts => parts[1].Split(',', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>The row(s) of the name index for <paramref name="type"/> ("| `TCPClient`: ...").</summary>
    private static string IndexRows(string api, string type) =>
        string.Join("\n", Section(api, "## Name index").Split('\n').Where(line => line.StartsWith("| `" + type + "`:", StringComparison.Ordinal)));

    /// <summary>Every object type has its section and its name-index rows list every method,
    /// property and event; each also appears in the type's own section.</summary>
    [Test]
    public async Task EveryMethodPropertyAndEvent_IsDocumented()
    {
        using var www = new TempWww();
        using var harness = new HostHarness(www);
        Dictionary<string, string[]> methods = MethodsFromMetatables(harness);
        string api = ApiText();

        await Assert.That(methods.Keys.Order().ToArray()).IsEquivalentTo(TypeSources.Keys.Order().ToArray());
        await Assert.That(harness.Runtime.Types.Select(t => t.Name).Order().ToArray()).IsEquivalentTo(TypeSources.Keys.Order().ToArray());
        await Assert.That(methods["TCPClient"]).Contains("connect");
        await Assert.That(methods["Timer"]).Contains("nextRaising");

        var missing = new List<string>();
        foreach (ScriptType type in harness.Runtime.Types)
        {
            string section = Section(api, "## " + type.Name);
            if (section.Length == 0)
            {
                missing.Add($"## {type.Name} (section)");
                continue;
            }
            string rows = IndexRows(api, type.Name);
            foreach ((string kind, IEnumerable<string> names) in new[] { ("method", (IEnumerable<string>)methods[type.Name]), ("property", type.Properties), ("event", type.Events) })
            {
                foreach (string name in names)
                {
                    if (!HasToken(rows, name))
                        missing.Add($"{type.Name} {kind} `{name}` in the name index");
                    if (!Regex.IsMatch(section, $@"\b{Regex.Escape(name)}\b"))
                        missing.Add($"{type.Name} {kind} `{name}` in ## {type.Name}");
                }
            }
        }
        await Assert.That(missing).IsEmpty();
    }

    /// <summary>Each type's declared properties are what its Index function answers, and its
    /// declared events what its code calls: read from the source, so a property or an event
    /// added without its declaration (and so without this test's check of api.md) fails here.</summary>
    [Test]
    public async Task DeclaredPropertiesAndEvents_MatchTheCode()
    {
        using var www = new TempWww();
        using var harness = new HostHarness(www);
        var mismatches = new List<string>();
        foreach (ScriptType type in harness.Runtime.Types)
        {
            string source = File.ReadAllText(RepositoryFile("src", "MonaAot.Modules", TypeSources[type.Name]));
            int index = source.IndexOf("private static int Index(nint L)", StringComparison.Ordinal);
            int end = source.IndexOf("[UnmanagedCallersOnly]", index, StringComparison.Ordinal);
            string indexBody = end < 0 ? source[index..] : source[index..end];
            string[] answered = [.. Regex.Matches(indexBody, @"""(\w+)""u8").Select(m => m.Groups[1].Value).Order()];
            // An event's name reaches the shim as a NUL-terminated literal, however it is pushed
            // (ScriptRuntime.PushEvent, a helper); onReception, per message, as the registry's
            // interned string ScriptRuntime.ReceptionName (mona_reception, mona_datagram).
            IEnumerable<string> pushed = Regex.Matches(source, @"""(\w+)\\0""u8").Select(m => m.Groups[1].Value);
            if (source.Contains("Runtime.ReceptionName", StringComparison.Ordinal))
                pushed = pushed.Append("onReception");
            string[] called = [.. pushed.Distinct().Order()];
            if (!answered.SequenceEqual(type.Properties.Order()))
                mismatches.Add($"{type.Name} properties: declared [{string.Join(", ", type.Properties)}], Index answers [{string.Join(", ", answered)}]");
            if (!called.SequenceEqual(type.Events.Order()))
                mismatches.Add($"{type.Name} events: declared [{string.Join(", ", type.Events)}], called [{string.Join(", ", called)}]");
        }
        await Assert.That(mismatches).IsEmpty();
    }

    /// <summary>Each declared property, read on a fresh object whose fields table holds a decoy
    /// under that name, is answered by the property (not the decoy): a listed name that the
    /// Index function does not answer fails.</summary>
    [Test]
    public async Task DeclaredProperties_AreAnsweredByTheObject()
    {
        using var www = new TempWww();
        using var harness = new HostHarness(www);
        var makers = new Dictionary<string, string>
        {
            ["TCPClient"] = "mona:createTCPClient()",
            ["TCPServer"] = "mona:createTCPServer()",
            ["UDPSocket"] = "mona:createUDPSocket()",
            ["Timer"] = "mona:setTimer(function() end, 0)",
        };
        var wrong = new List<string>();
        foreach (ScriptType type in harness.Runtime.Types)
        {
            if (type.Properties.Count == 0)
                continue;
            if (!makers.TryGetValue(type.Name, out string? make))
            {
                wrong.Add($"{type.Name}: no way to make one in this test");
                continue;
            }
            string names = string.Join(", ", type.Properties.Select(p => $"\"{p}\""));
            string answer = Eval(harness, $$"""
                local obj = {{make}}
                local fields = debug.getuservalue(obj, 1)
                local decoy = {}
                local bad = {}
                for _, name in ipairs({ {{names}} }) do
                  fields[name] = decoy
                  local ok, value = pcall(function() return obj[name] end)
                  if not ok then bad[#bad + 1] = name .. " raised " .. tostring(value)
                  elseif value == decoy then bad[#bad + 1] = name .. " is not answered" end
                end
                return table.concat(bad, "; ")
                """);
            if (answer.Length > 0)
                wrong.Add($"{type.Name}: {answer}");
        }
        await Assert.That(wrong).IsEmpty();
    }

    /// <summary>Every key ServerSettings reads is in ServerSettings.KnownKeys (read from the
    /// source), and every known key has its row in its section's table of api.md.</summary>
    [Test]
    public async Task EveryConfigurationKey_IsKnownAndDocumented()
    {
        string source = File.ReadAllText(RepositoryFile("src", "MonaAot", "Configuration", "ServerSettings.cs"));
        string[] read = [.. Regex.Matches(source, @"ini\.(?:Find|GetInteger|GetBoolean)\(""(\w*)"", ""(\w+)""")
            .Select(m => m.Groups[1].Value + "." + m.Groups[2].Value).Distinct().Order()];
        string[] known = [.. ServerSettings.KnownKeys.SelectMany(section => section.Value.Select(key => section.Key + "." + key)).Order()];
        await Assert.That(read).IsEquivalentTo(known);

        string api = ApiText();
        string configuration = Section(api, "## Configuration");
        var missing = new List<string>();
        foreach ((string section, string[] keys) in ServerSettings.KnownKeys)
        {
            string table = Section(configuration, section.Length == 0 ? "### Top level" : $"### `[{section}]`");
            if (table.Length == 0)
                missing.Add(section.Length == 0 ? "### Top level" : $"### `[{section}]`");
            foreach (string key in keys)
            {
                if (!table.Contains("| `" + key + "` |", StringComparison.Ordinal))
                    missing.Add($"[{section}] {key}");
            }
        }
        await Assert.That(missing).IsEmpty();
    }
}
