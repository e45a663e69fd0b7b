using System;
using System.Text;
using MonaAot.Lua;
using MonaAot.Lua.Native;

namespace MonaAot.Hosting;

/// <summary>
/// The Lua half of each application's <c>require</c> (docs/api.md, "require"; docs/architecture.md,
/// "Modules"). Written in Lua because it calls Lua (the module's chunk, Lua's own require) and
/// raises Lua errors, which C# must never do: the C# half (<see cref="ApplicationModules"/>) only
/// finds, reads and reports. The chunk runs once per VM and returns <c>make(env, find,
/// report)</c>, which returns a require and a package view for one application; the globals it
/// uses are taken when it runs, so a script that replaces one later does not change require.
/// </summary>
public static class ModuleRequire
{
    private const string Source = """
        local type, tostring, error, pcall, xpcall, load, rawget, setmetatable, pairs =
              type, tostring, error, pcall, xpcall, load, rawget, setmetatable, pairs
        local globalRequire, package, traceback = require, package, debug.traceback
        local loadedGlobally = package.loaded
        -- The standard libraries, loaded before any script: they win over a file of the same
        -- name, as in Lua, where package.loaded is looked at first.
        local standard = {}
        for name in pairs(loadedGlobally) do standard[name] = true end
        local loading = {} -- the mark of a module whose chunk is running

        return function(env, find, report)
          -- Misses read through to the shared cache, so package.loaded.string still works.
          local loaded = setmetatable({}, {__index = loadedGlobally})

          local function require(name)
            local kind = type(name)
            if kind == "number" then
              name = tostring(name)
            elseif kind ~= "string" then
              error("bad argument #1 to 'require' (string expected, got " .. kind .. ")", 2)
            end
            local value = rawget(loaded, name)
            if value == loading then
              error("module '" .. name .. "' is required again while it loads (a loop of requires)", 2)
            elseif value ~= nil then
              return value
            elseif standard[name] and loadedGlobally[name] ~= nil then
              return loadedGlobally[name]
            end
            local code, file, path = find(name)
            if code == false then
              -- Not in the application's folders: Lua's own searchers (package.path, package.cpath)
              -- and cache, shared by every application.
              local ok, result, data = pcall(globalRequire, name)
              if ok then
                return result, data
              end
              if type(result) == "string" then
                local header = "module '" .. name .. "' not found:"
                if result:sub(1, #header) == header then
                  result = header .. file .. result:sub(#header + 1)
                end
              end
              error(result, 2)
            elseif code == nil then
              error(file, 2)
            end
            local chunk, message = load(code, "@" .. file, "t", env)
            if not chunk then
              report(message)
              error("error loading module '" .. name .. "' from file '" .. file .. "':\n\t" .. message, 2)
            end
            loaded[name] = loading
            local ok, result = xpcall(chunk, traceback, name, path)
            if not ok then
              loaded[name] = nil
              result = tostring(result)
              report(result)
              error("error running module '" .. name .. "' from file '" .. file .. "':\n\t"
                    .. result:match("^[^\n]*"), 2)
            end
            if result ~= nil then
              loaded[name] = result
            elseif rawget(loaded, name) == loading then
              loaded[name] = true
            end
            return rawget(loaded, name), path
          end

          -- The application's package: its own loaded, the rest (path, cpath, searchers...)
          -- read from and written to the shared one.
          return require, setmetatable({loaded = loaded}, {__index = package, __newindex = package})
        end
        """;

    /// <summary>Compiles and runs the chunk; returns a registry reference to make.</summary>
    public static int Install(LuaVm vm)
    {
        if (!vm.Load(Encoding.UTF8.GetBytes(Source), "require", out string error) || !vm.Call(0, 1, out error))
            throw new InvalidOperationException($"require cannot be installed: {error}");
        return LuaApi.luaL_ref(vm.L, LuaApi.LUA_REGISTRYINDEX);
    }
}
