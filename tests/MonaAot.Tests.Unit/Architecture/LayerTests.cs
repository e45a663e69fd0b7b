using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using NetArchTest.Rules;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Architecture;

/// <summary>
/// The one-way rule (docs/architecture.md, "The one-way rule"): interop -> reactor -> sockets ->
/// Lua binding -> modules -> host -> executable, each layer using only those before it. Each
/// test takes one layer's types from the real assemblies and fails when one of them depends on
/// a namespace of a later layer, naming the type and what it reaches. Layers are namespaces
/// (the folders), not projects: Core holds three of them, the executable's project two.
/// </summary>
public class LayerTests
{
    private static readonly Assembly Core = typeof(MonaAot.Net.TcpConnection).Assembly;
    private static readonly Assembly Lua = typeof(MonaAot.Lua.LuaVm).Assembly;
    private static readonly Assembly Mail = typeof(MonaAot.Mail.MailQueue).Assembly;
    private static readonly Assembly Modules = typeof(MonaAot.Modules.TcpClientObject).Assembly;
    private static readonly Assembly Executable = typeof(MonaAot.Program).Assembly;

    // The layers' namespaces, from the top down. The executable is the root namespace's types
    // (Program, Server), named one by one: "MonaAot" alone would match everything.
    private static readonly string[] ExecutableLayer = ["MonaAot.Program", "MonaAot.Server"];
    private static readonly string[] HostLayer = ["MonaAot.Hosting", "MonaAot.Configuration", "MonaAot.Logging"];
    private static readonly string[] ModulesLayer = ["MonaAot.Modules", "MonaAot.Mail"];
    private static readonly string[] BindingLayer = ["MonaAot.Lua", "KeraLua"];
    private static readonly string[] SocketsLayer = ["MonaAot.Net"];
    private static readonly string[] ReactorLayer = ["MonaAot.Reactor", "MonaAot.Collections", "MonaAot.Diagnostics"];

    private static string[] Above(params string[][] layers) => layers.SelectMany(l => l).ToArray();

    /// <summary>Every name the rules forbid is a real namespace or type, so that no rule checks
    /// a name nothing has (a typo, a rename) and passes for it.</summary>
    [Test]
    public async Task EveryLayerName_NamesSomething()
    {
        Assembly[] all = [Core, Lua, Mail, Modules, Executable, typeof(KeraLua.Lua).Assembly];
        string[] names = Above(ExecutableLayer, HostLayer, ModulesLayer, BindingLayer, SocketsLayer, ReactorLayer, ["MonaAot.Interop"]);
        string[] unknown = names.Where(name => !all.SelectMany(a => a.GetTypes())
            .Any(t => t.FullName == name || (t.Namespace ?? "").StartsWith(name, System.StringComparison.Ordinal))).ToArray();
        await Assert.That(unknown).IsEmpty();
    }

    [Test]
    public async Task Interop_UsesNoOtherMonaAotNamespace()
    {
        // Declarations and constants only: below everything, even the logger.
        string? breaches = Breaches(Types.InAssembly(Core).That().ResideInNamespaceStartingWith("MonaAot.Interop"),
            Above(ReactorLayer, SocketsLayer, BindingLayer, ModulesLayer, HostLayer, ExecutableLayer));
        await Assert.That(breaches).IsNull();
    }

    [Test]
    public async Task LuaNative_IsInterop()
    {
        // The Lua C API and the shim's declarations: interop that lives beside the binding
        // (MonaAot.Lua.Native), so it may use MonaAot.Interop and KeraLua, and nothing else.
        string[] luaRoot = Lua.GetTypes().Where(t => t.Namespace == "MonaAot.Lua" && !t.IsNested)
            .Select(t => t.FullName!).ToArray();
        string? breaches = Breaches(Types.InAssembly(Lua).That().ResideInNamespaceStartingWith("MonaAot.Lua.Native"),
            Above(ReactorLayer, SocketsLayer, luaRoot, ["MonaAot.Lua.Binding", "MonaAot.Lua.Runtime"],
                ModulesLayer, HostLayer, ExecutableLayer));
        await Assert.That(breaches).IsNull();
    }

    [Test]
    public async Task CollectionsAndDiagnostics_StayBelowTheReactor()
    {
        string? breaches = Breaches(Types.InAssembly(Core).That().ResideInNamespaceStartingWith("MonaAot.Collections")
                .Or().ResideInNamespaceStartingWith("MonaAot.Diagnostics"),
            Above(["MonaAot.Reactor"], SocketsLayer, BindingLayer, ModulesLayer, HostLayer, ExecutableLayer));
        await Assert.That(breaches).IsNull();
    }

    [Test]
    public async Task Reactor_KnowsNoSockets()
    {
        // The seam (IIoBackend) knows handles and tokens; addresses and sockets are the next
        // layer's, Epoll/ and Iocp/ included.
        string? breaches = Breaches(Types.InAssembly(Core).That().ResideInNamespaceStartingWith("MonaAot.Reactor"),
            Above(SocketsLayer, BindingLayer, ModulesLayer, HostLayer, ExecutableLayer));
        await Assert.That(breaches).IsNull();
    }

    [Test]
    public async Task Sockets_KnowNoLua()
    {
        string? breaches = Breaches(Types.InAssembly(Core).That().ResideInNamespaceStartingWith("MonaAot.Net"),
            Above(BindingLayer, ModulesLayer, HostLayer, ExecutableLayer));
        await Assert.That(breaches).IsNull();
    }

    [Test]
    public async Task Core_HasNoNotionOfLua()
    {
        // Every type of the assembly, whatever its namespace: what direct writes from the shim
        // need is Net's neutral DirectWriteGate, which the binding maps onto its userdata.
        string? breaches = Breaches(Types.InAssembly(Core), Above(BindingLayer, ModulesLayer, HostLayer, ExecutableLayer));
        await Assert.That(breaches).IsNull();
    }

    [Test]
    public async Task LuaBindingKit_KnowsNoModules()
    {
        // MonaAot.Lua, .Binding, .Native, .Runtime: the kit every Lua-visible type is made with.
        string? breaches = Breaches(Types.InAssembly(Lua), Above(ModulesLayer, HostLayer, ExecutableLayer));
        await Assert.That(breaches).IsNull();
    }

    [Test]
    public async Task Modules_KnowNoHost()
    {
        // Every Lua-visible type, the mona table and the log functions included: what they need
        // of the host they ask through IMonaHost.
        string? breaches = Breaches(Types.InAssembly(Modules), Above(HostLayer, ExecutableLayer));
        await Assert.That(breaches).IsNull();
    }

    [Test]
    public async Task Mail_KnowsNoLuaNorHost()
    {
        // Mail sends off the loop for the Mail module and needs nothing of the binding.
        string? breaches = Breaches(Types.InAssembly(Mail), Above(BindingLayer, ["MonaAot.Modules"], HostLayer, ExecutableLayer));
        await Assert.That(breaches).IsNull();
    }

    [Test]
    public async Task Host_KnowsNoExecutable()
    {
        string? breaches = Breaches(Types.InAssembly(Executable).That().ResideInNamespaceStartingWith("MonaAot.Hosting")
                .Or().ResideInNamespaceStartingWith("MonaAot.Configuration")
                .Or().ResideInNamespaceStartingWith("MonaAot.Logging"),
            ExecutableLayer);
        await Assert.That(breaches).IsNull();
    }

    /// <summary>Folders of one layer that use each other today, each a known debt
    /// (docs/architecture.md, "The one-way rule"): a loop of folders must lie within one of
    /// these (a platform's build may compile only part of it), or the test fails.</summary>
    private static readonly string[][] KnownLoops =
    [
        // EventLoop picks its backend; the backends implement the seam EventLoop declares.
        ["MonaAot.Reactor", "MonaAot.Reactor.Epoll", "MonaAot.Reactor.Iocp"],
        // The binding kit's parts: HostFunction checks against ScriptType, whose
        // metamethods go through HostFunction; the VM sets up both.
        ["MonaAot.Lua", "MonaAot.Lua.Binding", "MonaAot.Lua.Runtime"],
    ];

    [Test]
    public async Task Folders_FormNoNewLoop()
    {
        // Within each assembly (projects cannot form a loop): namespaces that reach each other,
        // directly or around a longer loop. Exact namespaces, so that Reactor and Reactor.Epoll
        // are two folders.
        var loops = new SortedSet<string>();
        foreach (Assembly assembly in new[] { Core, Lua, Mail, Modules, Executable })
        {
            Dictionary<string, string[]> typesOf = assembly.GetTypes()
                .Where(t => !t.IsNested && t.Namespace is { } ns && ns.StartsWith("MonaAot", System.StringComparison.Ordinal))
                .GroupBy(t => t.Namespace!)
                .ToDictionary(g => g.Key, g => g.Select(t => t.FullName!).ToArray());
            var uses = typesOf.Keys.ToDictionary(ns => ns, _ => new SortedSet<string>());
            foreach (string from in typesOf.Keys)
                foreach (string to in typesOf.Keys)
                {
                    if (from == to)
                        continue;
                    var result = Types.InAssembly(assembly).That().ResideInNamespaceMatching("^" + Regex.Escape(from) + "$")
                        .ShouldNot().HaveDependencyOnAny(typesOf[to]).GetResult();
                    if (!result.IsSuccessful)
                        uses[from].Add(to);
                }
            foreach (string from in uses.Keys)
            {
                string[] loop = uses.Keys.Where(n => n == from || (Reaches(uses, from, n) && Reaches(uses, n, from)))
                    .Order(System.StringComparer.Ordinal).ToArray();
                if (loop.Length > 1 && !KnownLoops.Any(known => loop.All(known.Contains)))
                    loops.Add("  " + string.Join(", ", loop));
            }
        }
        await Assert.That(loops.Count == 0 ? null
            : "folders that use each other, beyond the known loops (docs/architecture.md, \"The one-way rule\"):\n"
              + string.Join("\n", loops)).IsNull();
    }

    private static bool Reaches(Dictionary<string, SortedSet<string>> uses, string from, string target)
    {
        var seen = new HashSet<string>();
        var pending = new Stack<string>([from]);
        while (pending.Count > 0)
        {
            string at = pending.Pop();
            if (at == target)
                return true;
            if (seen.Add(at))
                foreach (string next in uses[at])
                    pending.Push(next);
        }
        return false;
    }

    /// <summary>Null when no selected type depends on any of <paramref name="forbidden"/>, else
    /// one line per offending type with what it reaches: the assertion's message.</summary>
    private static string? Breaches(PredicateList selection, string[] forbidden)
    {
        // A rule over no type would pass whatever the code does (a renamed namespace).
        if (!selection.GetTypes().Any())
            throw new System.InvalidOperationException("the rule selects no type: a layer's namespace was renamed?");
        var reached = new SortedDictionary<string, SortedSet<string>>();
        foreach (string name in forbidden)
        {
            NetArchTest.Rules.TestResult result = selection.ShouldNot().HaveDependencyOn(name).GetResult();
            if (result.IsSuccessful)
                continue;
            foreach (string type in result.FailingTypeNames)
            {
                if (!reached.TryGetValue(type, out SortedSet<string>? names))
                    reached[type] = names = new SortedSet<string>();
                names.Add(name);
            }
        }
        return reached.Count == 0
            ? null
            : "a layer reaches up (docs/architecture.md, \"The one-way rule\"):\n"
              + string.Join("\n", reached.Select(r => $"  {r.Key} uses {string.Join(", ", r.Value)}"));
    }

    private static string? Breaches(Types types, string[] forbidden) => Breaches(types.That().HaveNameMatching(".*"), forbidden);
}
