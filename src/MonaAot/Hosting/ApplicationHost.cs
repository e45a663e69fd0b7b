using System;
using System.Collections.Generic;
using System.IO;
using MonaAot.Diagnostics;
using MonaAot.Lua;
using MonaAot.Lua.Binding;
using MonaAot.Modules;
using MonaAot.Lua.Native;
using MonaAot.Lua.Runtime;
using MonaAot.Reactor;

namespace MonaAot.Hosting;

/// <summary>
/// Runs the applications of a www folder (docs/guide.md; docs/api.md, "The application
/// environment") on the loop thread: loads them parents first, gives each an environment that
/// inherits from its parent's and holds its own mona (what its code makes, it owns), calls onStart/onStop/onManage, and applies the scanner's reports
/// (reload a changed main.lua, stop a removed one, load a new one), and reloads an application
/// when a module file it required changes (docs/architecture.md, "Modules"). A script that fails
/// is logged and left unloaded; nothing else is affected.
/// </summary>
public sealed unsafe class ApplicationHost : IDisposable
{
    public static readonly TimeSpan ManageInterval = TimeSpan.FromSeconds(2);

    private readonly ScriptRuntime _runtime;
    private readonly EventLoop _loop;
    private readonly MonaObject _mona;
    private readonly LuaVm _vm;
    private readonly Logger _logger;
    private readonly string _wwwRoot;
    private readonly SortedDictionary<string, Application> _applications = new(StringComparer.Ordinal);
    // The same applications as a list in path order: enumerating a SortedDictionary allocates,
    // and the 2-second tick must not.
    private readonly List<Application> _ordered = new();
    private readonly int _makeRequireRef; // ModuleRequire's make
    private bool _loading;                // an application's main.lua runs: its requires publish at the end
    private ApplicationScanner? _scanner;
    private LoopTimer? _manageTimer;
    private bool _stopped;

    public ApplicationHost(ScriptRuntime runtime, MonaObject mona, string wwwRoot)
    {
        _mona = mona;
        _runtime = runtime;
        _loop = runtime.Loop;
        _vm = runtime.Vm;
        _logger = runtime.Logger;
        _wwwRoot = wwwRoot;
        _makeRequireRef = ModuleRequire.Install(_vm);
    }

    /// <summary>Applications by path, parents before children.</summary>
    public IReadOnlyDictionary<string, Application> Applications => _applications;

    /// <summary>Loads every application, then starts watching the folder and ticking onManage.</summary>
    public void Start()
    {
        _scanner = new ApplicationScanner(_wwwRoot, _loop, Apply, CheckModules);
        // Said once: an empty or mistyped www otherwise starts a server that does nothing.
        if (_scanner.Initial.Count == 0)
            _logger.Warn($"no main.lua under {_wwwRoot}: nothing to serve");
        Apply(_scanner.Initial);
        _scanner.Start();
        long period = (long)ManageInterval.TotalMilliseconds;
        _manageTimer = _loop.Schedule(period, period, Manage);
    }

    /// <summary>Stops every application, children before parents.</summary>
    public void Stop()
    {
        _stopped = true;
        _scanner?.Dispose();
        _scanner = null;
        _manageTimer?.Cancel();
        var paths = new List<string>(_applications.Keys);
        for (int i = paths.Count - 1; i >= 0; i--)
            StopApplication(_applications[paths[i]]);
    }

    /// <summary>
    /// SIGHUP: every application whose main.lua was found is reloaded as if the file had
    /// changed (one that failed to load gets another try): all stop first, children before
    /// parents, so a child's onStop still sees its parent's environment, then all load again,
    /// parents before children.
    /// </summary>
    public void ReloadAll()
    {
        if (_stopped)
            return;
        var loaded = new List<Application>();
        foreach (Application app in _ordered)
        {
            if (app.LoadedStamp is not null)
                loaded.Add(app);
        }
        for (int i = loaded.Count - 1; i >= 0; i--)
        {
            StopApplication(loaded[i]);
            ClearEnvironment(loaded[i]);
        }
        foreach (Application app in loaded)
            LoadApplication(app);
    }

    /// <summary>Brings the loaded applications in line with the main.lua files found.</summary>
    public void Apply(SortedDictionary<string, FileStamp> files)
    {
        if (_stopped)
            return; // a scanner report that was already on its way when the host stopped
        // Removed files first, deepest first, so a child stops before its parent.
        var loaded = new List<Application>(_applications.Values);
        for (int i = loaded.Count - 1; i >= 0; i--)
        {
            Application app = loaded[i];
            if (app.LoadedStamp is not null && !files.ContainsKey(app.Path))
            {
                _logger.Info($"Application '{DisplayPath(app)}' removed");
                StopApplication(app);
                ClearEnvironment(app);
                app.LoadedStamp = null;
                app.Modules.Clear();
                PublishModules();
            }
        }
        // New and changed files in path order: parents before children.
        foreach (KeyValuePair<string, FileStamp> file in files)
        {
            Application app = Ensure(file.Key);
            if (app.LoadedStamp == file.Value)
                continue;
            bool reload = app.LoadedStamp is not null;
            app.LoadedStamp = file.Value;
            if (reload)
            {
                _logger.Info($"Application '{DisplayPath(app)}' changed, reloading");
                StopApplication(app);
                ClearEnvironment(app);
            }
            LoadApplication(app);
        }
    }

    /// <summary>
    /// Reloads, parents first, every loaded application one of whose module files (found or
    /// looked for by require) changed, appeared or vanished since it loaded, as a change of its
    /// main.lua would; then hands the watcher the files to watch from now on. The watcher's
    /// report; tests call it directly.
    /// </summary>
    public void CheckModules()
    {
        if (_stopped)
            return;
        foreach (Application app in _ordered)
        {
            if (app.LoadedStamp is null || app.Modules.FirstChanged() is not WatchedFile file)
                continue;
            _logger.Info($"Application '{DisplayPath(app)}' changed ({app.Modules.Shown(file)}), reloading");
            StopApplication(app);
            ClearEnvironment(app);
            LoadApplication(app);
        }
        PublishModules();
    }

    /// <summary>Gives the watcher every application's module files (the loop thread's list is
    /// copied: the watcher reads it from its own thread).</summary>
    private void PublishModules()
    {
        if (_scanner is null)
            return;
        var files = new List<WatchedFile>();
        foreach (Application app in _ordered)
            files.AddRange(app.Modules.Files);
        _scanner.WatchModules([.. files]);
    }

    /// <summary>A require looked at a new file: published at once when it ran outside a load
    /// (in a handler), else once the load ends.</summary>
    private void ModuleRecorded()
    {
        if (!_loading)
            PublishModules();
    }

    /// <summary>onManage() in every started application that defines it itself (the 2-second tick).</summary>
    internal void Manage()
    {
        foreach (Application app in _ordered)
        {
            if (app.Started)
                CallHandler(app, "onManage", raw: true, argument: null);
        }
    }

    private void LoadApplication(Application app)
    {
        app.Modules.Clear();
        _loading = true;
        try
        {
            RunApplication(app);
        }
        finally
        {
            _loading = false;
            PublishModules();
        }
    }

    private void RunApplication(Application app)
    {
        byte[] code;
        try
        {
            code = File.ReadAllBytes(app.ScriptFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.Log(LogLevel.Error, app.DisplayFile, 0, $"cannot read: {e.Message}");
            return;
        }
        nint L = _vm.L;
        int top = LuaApi.lua_gettop(L);
        if (!_vm.Load(code, app.DisplayFile, out string error))
        {
            LogScriptError(app, error);
            return;
        }
        PushEnvironment(app);
        LuaApi.lua_setupvalue(L, -2, 1); // the main chunk's only upvalue is _ENV
        bool ran = _vm.Call(0, 0, out error);
        LuaApi.lua_settop(L, top);
        if (!ran)
        {
            LogScriptError(app, error);
            // Left unloaded until the file changes: drop what the failed run created.
            app.CloseResources();
            ClearEnvironment(app);
            return;
        }
        app.Started = true;
        _logger.Info($"Application '{DisplayPath(app)}' started");
        CallHandler(app, "onStart", raw: false, argument: app.Path);
    }

    private void StopApplication(Application app)
    {
        if (app.Started)
        {
            app.Started = false;
            CallHandler(app, "onStop", raw: false, argument: app.Path);
            _logger.Info($"Application '{DisplayPath(app)}' stopped");
        }
        app.CloseResources();
    }

    /// <summary>
    /// Calls env[name](argument) if it is a function. onStart/onStop are looked up through the
    /// inheritance chain, which is why they receive the path (MonaServer's rule); onManage only
    /// in the application's own environment, so a parent's is not run once per child.
    /// </summary>
    private void CallHandler(Application app, string name, bool raw, string? argument)
    {
        nint L = _vm.L;
        int top = LuaApi.lua_gettop(L);
        PushEnvironment(app);
        if (!_vm.GetField(-1, name, raw, out string error))
        {
            LuaApi.lua_settop(L, top);
            LogScriptError(app, error);
            return;
        }
        if (LuaApi.lua_type(L, -1) != LuaApi.LUA_TFUNCTION)
        {
            LuaApi.lua_settop(L, top);
            return;
        }
        int nargs = 0;
        if (argument is not null)
        {
            LuaStrings.Push(L, argument);
            nargs = 1;
        }
        bool ok = _vm.Call(nargs, 0, out error);
        LuaApi.lua_settop(L, top);
        if (!ok)
            LogScriptError(app, error);
    }

    private void LogScriptError(Application app, string error)
    {
        _runtime.ScriptErrors++;
        ScriptError where = ScriptError.Parse(error, app.DisplayFile);
        _logger.Log(LogLevel.Error, where.File, where.Line, where.Message);
    }

    /// <summary>The node for <paramref name="path"/>, creating it and its ancestors.</summary>
    private Application Ensure(string path)
    {
        if (_applications.TryGetValue(path, out Application? app))
            return app;
        Application? parent = path.Length == 0 ? null : Ensure(path[..path.LastIndexOf('/')]);
        string relative = path.Length == 0 ? "main.lua" : path[1..] + "/main.lua";
        app = new Application(path, parent, Path.Combine(_wwwRoot, relative), relative);
        app.Modules = new ApplicationModules(app, _wwwRoot, _logger, ModuleRecorded);
        app.ModulesHandle = _vm.Keep(app.Modules);
        CreateEnvironment(app);
        _applications.Add(path, app);
        _ordered.Clear();
        _ordered.AddRange(_applications.Values);
        return app;
    }

    /// <summary>A new table whose misses go to the parent's environment (the root's to _G),
    /// and the application's own mona.</summary>
    private void CreateEnvironment(Application app)
    {
        nint L = _vm.L;
        LuaApi.lua_newtable(L);
        LuaApi.lua_createtable(L, 0, 1); // its metatable
        LuaStrings.Push(L, "__index");
        PushParentEnvironment(app);
        LuaApi.lua_rawset(L, -3);
        LuaApi.lua_setmetatable(L, -2);
        _mona.PushFor(app, -1);
        app.MonaRef = LuaApi.luaL_ref(L, LuaApi.LUA_REGISTRYINDEX);
        app.EnvironmentRef = LuaApi.luaL_ref(L, LuaApi.LUA_REGISTRYINDEX);
        SetStandardFields(app);
    }

    /// <summary>Empties the environment (for a reload or a removed file), keeping its identity,
    /// so children still inherit from it, and its standard fields.</summary>
    private void ClearEnvironment(Application app)
    {
        nint L = _vm.L;
        PushEnvironment(app);
        int env = LuaApi.lua_gettop(L);
        // Assigning nil to existing fields during lua_next is allowed (lua_next's contract).
        LuaApi.lua_pushnil(L);
        while (LuaApi.lua_next(L, env) != 0)
        {
            LuaApi.lua_pop(L, 1);
            LuaApi.lua_pushvalue(L, -1);
            LuaApi.lua_pushnil(L);
            LuaApi.lua_rawset(L, env);
        }
        LuaApi.lua_pop(L, 1);
        SetStandardFields(app);
    }

    /// <summary>super, path, name, mona, and its own require and package (docs/api.md, "The
    /// application environment").</summary>
    private void SetStandardFields(Application app)
    {
        nint L = _vm.L;
        PushEnvironment(app);
        LuaStrings.Push(L, "super");
        PushParentEnvironment(app);
        LuaApi.lua_rawset(L, -3);
        LuaStrings.Push(L, "path");
        LuaStrings.Push(L, app.Path);
        LuaApi.lua_rawset(L, -3);
        LuaStrings.Push(L, "name");
        LuaStrings.Push(L, app.Name);
        LuaApi.lua_rawset(L, -3);
        LuaStrings.Push(L, "mona");
        LuaApi.lua_rawgeti(L, LuaApi.LUA_REGISTRYINDEX, app.MonaRef);
        LuaApi.lua_rawset(L, -3);
        // A new require each time: a reload starts with an empty module cache.
        int env = LuaApi.lua_gettop(L);
        LuaApi.lua_rawgeti(L, LuaApi.LUA_REGISTRYINDEX, _makeRequireRef);
        LuaApi.lua_pushvalue(L, env);
        ApplicationModules.PushFunctions(L, app.ModulesHandle);
        if (!_vm.Call(3, 2, out string error))
            throw new InvalidOperationException($"require cannot be made: {error}");
        LuaStrings.Push(L, "package");
        LuaApi.lua_insert(L, -2);
        LuaApi.lua_rawset(L, env);
        LuaStrings.Push(L, "require");
        LuaApi.lua_insert(L, -2);
        LuaApi.lua_rawset(L, env);
        LuaApi.lua_pop(L, 1);
    }

    private void PushEnvironment(Application app) => LuaApi.lua_rawgeti(_vm.L, LuaApi.LUA_REGISTRYINDEX, app.EnvironmentRef);

    private void PushParentEnvironment(Application app)
    {
        if (app.Parent is null)
            LuaApi.lua_pushglobaltable(_vm.L);
        else
            PushEnvironment(app.Parent);
    }

    private static string DisplayPath(Application app) => app.Path.Length == 0 ? "/" : app.Path;

    public void Dispose() => Stop();
}
