using System.Collections.Generic;
using MonaAot.Lua.Runtime;

namespace MonaAot.Hosting;

/// <summary>
/// One node of the www tree. Every folder that holds a main.lua, and every folder above one,
/// is a node with its own environment table, so that /a/b always inherits from /a (empty when
/// www/a has no main.lua) and a parent's environment keeps its identity across reloads.
/// </summary>
public sealed class Application : IResourceOwner
{
    // A set: an application may own 100,000 armed timers, each untracked when it fires, and
    // a list's linear Remove made that quadratic. Resources close in no particular order.
    private readonly HashSet<IOwnedResource> _resources = new(ReferenceEqualityComparer.Instance);

    public Application(string path, Application? parent, string scriptFile, string displayFile)
    {
        Path = path;
        Parent = parent;
        Name = path.Length == 0 ? "" : path[(path.LastIndexOf('/') + 1)..];
        ScriptFile = scriptFile;
        DisplayFile = displayFile;
    }

    /// <summary>"" for the root, "/a/b" for www/a/b.</summary>
    public string Path { get; }

    /// <summary>The last path element ("" for the root).</summary>
    public string Name { get; }

    public Application? Parent { get; }

    /// <summary>Absolute path of its main.lua.</summary>
    public string ScriptFile { get; }

    /// <summary>Its folder, where relative paths given by its scripts start.</summary>
    public string Folder => System.IO.Path.GetDirectoryName(ScriptFile) ?? ".";

    /// <summary>main.lua's path relative to www, as logs and Lua errors show it.</summary>
    public string DisplayFile { get; }

    /// <summary>Registry reference of the environment table.</summary>
    public int EnvironmentRef { get; set; }

    /// <summary>Registry reference of its own mona table (its environment's <c>mona</c>, whose
    /// factories make objects this application owns).</summary>
    public int MonaRef { get; set; }

    /// <summary>Its require's C# half: the module files it looked at (docs/architecture.md, "Modules").</summary>
    public ApplicationModules Modules { get; internal set; } = null!;

    /// <summary>The handle Lua holds to <see cref="Modules"/> (require's host functions).</summary>
    internal System.Runtime.InteropServices.GCHandle ModulesHandle { get; set; }

    /// <summary>The main.lua version last loaded (or tried), null when there is no file.</summary>
    public FileStamp? LoadedStamp { get; set; }

    /// <summary>main.lua ran without error and onStart was called; onStop is owed.</summary>
    public bool Started { get; set; }

    public void Track(IOwnedResource resource) => _resources.Add(resource);

    public void Untrack(IOwnedResource resource) => _resources.Remove(resource);

    /// <summary>Closes every resource; a resource that closes may untrack itself meanwhile.</summary>
    public void CloseResources()
    {
        var resources = new IOwnedResource[_resources.Count];
        _resources.CopyTo(resources);
        _resources.Clear();
        foreach (IOwnedResource resource in resources)
            resource.Close();
    }
}
