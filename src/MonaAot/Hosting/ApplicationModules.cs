using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using MonaAot.Diagnostics;
using MonaAot.Lua;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;

namespace MonaAot.Hosting;

/// <summary>
/// The C# half of one application's <c>require</c> (docs/architecture.md, "Modules"; the Lua half
/// is <see cref="ModuleRequire"/>): finds a module in the application's folder, then its parents'
/// up to the www root, reads it, and remembers every file it looked at, found or not, with the
/// version it had, so that the watcher reloads the application when one of them changes,
/// appears or vanishes. Also logs a module's error as a main.lua error is logged.
/// </summary>
public sealed unsafe class ApplicationModules
{
    private readonly Application _app;
    private readonly Logger _logger;
    private readonly Action _recorded;
    // Folders searched, the application's first: absolute path and the prefix shown for its
    // files (relative to www, '/' separated: "a/b/").
    private readonly (string Folder, string Shown)[] _folders;
    private readonly List<WatchedFile> _files = new();
    private readonly HashSet<string> _recordedPaths = new(StringComparer.Ordinal);

    public ApplicationModules(Application app, string wwwRoot, Logger logger, Action recorded)
    {
        _app = app;
        _logger = logger;
        _recorded = recorded;
        var folders = new List<(string, string)>();
        for (Application? node = app; node is not null; node = node.Parent)
        {
            string relative = node.Path.Length == 0 ? "" : node.Path[1..];
            folders.Add((relative.Length == 0 ? wwwRoot : Path.Combine(wwwRoot, relative), relative.Length == 0 ? "" : relative + "/"));
        }
        _folders = [.. folders];
    }

    /// <summary>The files its last load looked at through require, each with the version seen.</summary>
    public IReadOnlyList<WatchedFile> Files => _files;

    /// <summary>Forgets the files (the application is about to load again, or was removed).</summary>
    public void Clear()
    {
        _files.Clear();
        _recordedPaths.Clear();
    }

    /// <summary>The first file that changed since the application looked at it, or null.</summary>
    public WatchedFile? FirstChanged()
    {
        foreach (WatchedFile file in _files)
        {
            if (file.Changed())
                return file;
        }
        return null;
    }

    /// <summary>www-relative name of a watched file, as logs show it.</summary>
    public string Shown(WatchedFile file)
    {
        foreach ((string folder, string shown) in _folders)
        {
            if (file.Path.StartsWith(folder, StringComparison.Ordinal) && file.Path.Length > folder.Length)
                return shown + file.Path[folder.Length..].TrimStart('/', '\\').Replace('\\', '/');
        }
        return file.Path;
    }

    /// <summary>Pushes find and report (<see cref="ModuleRequire"/>) over <paramref name="self"/>.</summary>
    public static void PushFunctions(nint L, GCHandle self)
    {
        HostFunction.Push(L, &Find, self);
        HostFunction.Push(L, &Report, self);
    }

    /// <summary>find(name): the module's code, its www-relative name and its path; false and
    /// the "no file" lines of the places looked at when none has it; nil and a message when
    /// the file found cannot be read.</summary>
    [UnmanagedCallersOnly]
    private static int Find(nint L) => HostFunction.Function<ApplicationModules>(L, &Find);

    private static int Find(nint L, ApplicationModules self)
    {
        string name = LuaStrings.ToText(L, 1) ?? "";
        if (name.Contains('\0'))
        {
            // No file name holds a NUL; the C stat would see the name cut short there.
            LuaApi.lua_pushboolean(L, 0);
            LuaStrings.Push(L, "\n\tno module name may contain a NUL byte");
            return 2;
        }
        // Lua's rule (package.searchpath): every dot is a folder separator.
        string relative = name.Replace('.', '/');
        var notFound = new StringBuilder();
        foreach ((string folder, string shown) in self._folders)
        {
            for (int pattern = 0; pattern < 2; pattern++)
            {
                string tail = pattern == 0 ? relative + ".lua" : relative + "/init.lua";
                // Join, not Combine: a name that reads as an absolute path ("/etc/x") stays inside the folder.
                string path = Path.Join(folder, tail);
                string display = shown + tail;
                WatchedFile file = self.Record(path);
                if (file.Kind != 0)
                {
                    notFound.Append("\n\tno file '").Append(display).Append('\'');
                    continue;
                }
                byte[] code;
                try
                {
                    code = File.ReadAllBytes(path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    LuaApi.lua_pushnil(L);
                    LuaStrings.Push(L, $"cannot read module '{name}' from file '{display}': {e.Message}");
                    return 2;
                }
                LuaStrings.Push(L, code);
                LuaStrings.Push(L, display);
                LuaStrings.Push(L, path);
                return 3;
            }
        }
        LuaApi.lua_pushboolean(L, 0);
        LuaStrings.Push(L, notFound.ToString());
        return 2;
    }

    /// <summary>report(message): a module's syntax or runtime error (with its traceback),
    /// logged with the module's file and line, as main.lua's errors are.</summary>
    [UnmanagedCallersOnly]
    private static int Report(nint L) => HostFunction.Function<ApplicationModules>(L, &Report);

    private static int Report(nint L, ApplicationModules self)
    {
        string message = LuaStrings.ToText(L, 1) ?? $"(error object is a {LuaStrings.TypeName(L, 1)} value)";
        ScriptError where = ScriptError.Parse(message, self._app.DisplayFile);
        self._logger.Log(LogLevel.Error, where.File, where.Line, where.Message);
        return 0;
    }

    /// <summary>Stats <paramref name="path"/> and keeps that version, unless the load already
    /// looked at it (the first version seen is the one a change is measured against).</summary>
    private WatchedFile Record(string path)
    {
        // A set beside the list: a script that requires many names must not make each
        // lookup a walk over every path looked at before.
        if (!_recordedPaths.Add(path))
            return WatchedFile.Stat(path);
        WatchedFile file = WatchedFile.Stat(path);
        _files.Add(file);
        _recorded();
        return file;
    }
}
