using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;
using TUnit.Core.Enums;

namespace MonaAot.Tests.EndToEnd;

/// <summary>
/// Lua C modules in the published binary (issue 16, SPEC 11; docs/api.md, "Lua C modules"):
/// Debian's lua-cjson and lua-lpeg, which build.sh installs, load through package.cpath and work;
/// [lua] cmodules = false refuses them with a clear error; the binary exports the Lua C API and
/// nothing else, and still needs no shared library but libc, libm and the loader.
/// </summary>
// Linux only: it runs the published Linux binary (out/monaaot) as a child process.
[RunOn(OS.Linux)]
public class CModulesProcessTests
{
    private static readonly TimeSpan Wait = TcpProcessTests.Wait;

    // An echo server, so that a test can check the server still serves after a refused module.
    private const string EchoServer = """
        server = mona:createTCPServer()
        function server:onConnection(client)
          function client:onReception(data) self:send(data) end
        end
        assert(server:start("127.0.0.1", 0))
        NOTE("port ", server.port)
        """;

    [Test]
    public async Task Cjson_EncodesAndDecodes_AndLpeg_Matches()
    {
        using var www = new TempWww();
        www.WriteApp("", """
            local cjson = require "cjson"
            NOTE("encoded ", cjson.encode({ list = { 1, 2, 3 }, text = "a\"b" }))
            local value = cjson.decode('{"k":[1,2,{"z":null}],"s":"\\u00e9t\\u00e9","n":1.5}')
            NOTE("decoded ", value.k[2], " ", value.k[3].z == cjson.null, " ", value.s, " ", value.n)
            local lpeg = require "lpeg"
            local digits, letters = lpeg.C(lpeg.R("09") ^ 1), lpeg.C(lpeg.R("az") ^ 1)
            local pair = digits * "-" * letters * -1
            NOTE("matched ", table.concat({ pair:match("2026-dec") }, "+"), " ", tostring(pair:match("2026-Dec")))
            NOTE("lpeg ", lpeg.version)
            """);
        await using MonaProcess mona = MonaProcess.Start(www.Www);

        string encoded = await mona.WaitForLineText("encoded ", Wait);
        // cjson writes a table's keys in Lua's order, which is not the text's.
        await Assert.That(encoded).Contains("\"list\":[1,2,3]");
        await Assert.That(encoded).Contains("\"text\":\"a\\\"b\"");
        // lua-cjson 2.1 decodes every number as a float (2.0).
        await Assert.That(await mona.WaitForLineText("decoded ", Wait)).EndsWith("decoded 2.0 (true) été 1.5");
        await Assert.That(await mona.WaitForLineText("matched ", Wait)).EndsWith("matched 2026+dec nil");
        await mona.WaitForLine("lpeg ", Wait);
        await Assert.That(mona.Lines.Any(l => l.Contains("ERROR") || l.Contains("undefined symbol"))).IsFalse();
    }

    [Test]
    public async Task CModulesFalse_RefusesRequireAndLoadlib_WithAClearError_AndTheServerServes()
    {
        using var www = new TempWww();
        string ini = www.WriteIni("[lua]\ncmodules = false\n");
        www.WriteApp("", EchoServer + """
            for _, name in ipairs({ "cjson", "cjson.safe" }) do
              local ok, err = pcall(require, name)
              NOTE("require ", name, ": ", ok, " ", err)
            end
            local ok, err = pcall(package.loadlib, "/usr/lib/x86_64-linux-gnu/lua/5.4/cjson.so", "luaopen_cjson")
            NOTE("loadlib: ", ok, " ", err)
            local ok2, err2 = pcall(require, "nosuchmodule")
            NOTE("missing: ", ok2, " ", (err2:gsub("\n", " | ")))
            """);
        // An application whose main.lua requires a C module unprotected fails to start, alone,
        // with the error logged.
        www.WriteApp("needs", "local lpeg = require 'lpeg'\nNOTE('needs started')\n");
        await using MonaProcess mona = MonaProcess.Start("--config", ini, www.Www);

        const string Refused = "C modules are disabled ([lua] cmodules = false): ";
        await Assert.That(await mona.WaitForLineText("require cjson: ", Wait)).EndsWith("require cjson: (false) " + Refused + "cjson");
        // cjson.safe is in cjson.so (Lua's all-in-one searcher finds it by its root).
        await Assert.That(await mona.WaitForLineText("require cjson.safe: ", Wait)).EndsWith("require cjson.safe: (false) " + Refused + "cjson.safe");
        await Assert.That(await mona.WaitForLineText("loadlib: ", Wait)).EndsWith("loadlib: (false) " + Refused + "/usr/lib/x86_64-linux-gnu/lua/5.4/cjson.so");
        string missing = await mona.WaitForLineText("missing: ", Wait);
        await Assert.That(missing).Contains("module 'nosuchmodule' not found:");
        await Assert.That(missing).Contains("no C module: [lua] cmodules = false");
        await mona.WaitForLine(Refused + "lpeg", Wait);
        await Assert.That(mona.Lines.Any(l => l.Contains("needs started"))).IsFalse();

        string port = (await mona.WaitForLineText("] port ", Wait)).Split("port ")[1];
        using Socket socket = await TcpApp.Connect(int.Parse(port));
        await socket.SendAsync(Encoding.ASCII.GetBytes("still here"), SocketFlags.None);
        await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(socket, 10))).IsEqualTo("still here");
        mona.Signal(MonaProcess.SIGTERM);
        await Assert.That(await mona.WaitForExit(Wait)).IsEqualTo(0);
    }

    [Test]
    public async Task CModules_ABadValue_ExitsTwo_WithOneLine()
    {
        using var www = new TempWww();
        string ini = www.WriteIni("[lua]\ncmodules = off\n");
        (int code, string output, string error) = await MonaProcess.RunToEnd(Wait, "--config", ini, www.Www);
        await Assert.That(code).IsEqualTo(2);
        await Assert.That(error).IsEqualTo($"monaaot: {ini}:2: lua.cmodules must be true or false, got 'off'");
        await Assert.That(output).IsEqualTo("");
    }

    [Test]
    public async Task NotALuaModule_AMissingFile_AndABadLibrary_AreLuaErrors_NotCrashes()
    {
        using var www = new TempWww();
        // A .so that is no shared object at all, and a real shared object with no luaopen_.
        string folder = Path.Combine(www.Root, "clib");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "garbage.so"), "this is not an ELF file\n");
        File.Copy("/usr/lib/x86_64-linux-gnu/lua/5.4/lpeg.so", Path.Combine(folder, "renamed.so"));
        www.WriteApp("", EchoServer + $$"""
            package.cpath = "{{folder}}/?.so;" .. package.cpath
            local function try(label, f, ...)
              local results = table.pack(pcall(f, ...))
              for i = 1, results.n do results[i] = tostring(results[i]) end
              NOTE(label, ": ", (table.concat(results, " ", 1, results.n):gsub("\n", " | ")))
            end
            try("garbage", require, "garbage")
            try("renamed", require, "renamed")
            try("missing file", package.loadlib, "{{folder}}/nothing.so", "luaopen_nothing")
            try("missing function", package.loadlib, "/usr/lib/x86_64-linux-gnu/lua/5.4/cjson.so", "luaopen_nothing")
            NOTE("all tried")
            """);
        await using MonaProcess mona = MonaProcess.Start(www.Www);

        await mona.WaitForLine("all tried", Wait);
        await Assert.That(await mona.WaitForLineText("garbage: ", Wait)).Contains("false error loading module 'garbage' from file '" + folder + "/garbage.so'");
        await Assert.That(await mona.WaitForLineText("renamed: ", Wait)).Contains("undefined symbol: luaopen_renamed");
        await Assert.That(await mona.WaitForLineText("missing file: ", Wait)).EndsWith("true nil " + folder + "/nothing.so: cannot open shared object file: No such file or directory open");
        await Assert.That(await mona.WaitForLineText("missing function: ", Wait)).EndsWith("undefined symbol: luaopen_nothing init");

        string port = (await mona.WaitForLineText("] port ", Wait)).Split("port ")[1];
        using Socket socket = await TcpApp.Connect(int.Parse(port));
        await socket.SendAsync(Encoding.ASCII.GetBytes("alive"), SocketFlags.None);
        await Assert.That(Encoding.ASCII.GetString(await TcpApp.ReadExactly(socket, 5))).IsEqualTo("alive");
    }

    /// <summary>
    /// The binary's dynamic symbols (nm -D --defined-only) are Lua's public C API, every name
    /// lua.h, lauxlib.h and lualib.h declare with LUA_API, LUALIB_API or LUAMOD_API (and
    /// lua_ident), and besides them only what every Native AOT executable has: the runtime's
    /// debugger header, its version node, and the copies of libc's stdin/stdout/stderr.
    /// </summary>
    [Test]
    public async Task ExportedSymbols_AreTheLuaApi_AndNothingElse()
    {
        string nm = await RunTool("nm", "-D", "--defined-only", "--format=posix", MonaProcess.BinaryPath);
        var exported = nm.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ')[0].Split('@')[0]).ToHashSet();

        string headers = string.Concat(new[] { "lua.h", "lauxlib.h", "lualib.h" }
            .Select(name => File.ReadAllText(Path.Combine("/usr/include/lua5.4", name))));
        var api = Regex.Matches(headers, @"\b(?:LUA_API|LUALIB_API|LUAMOD_API)\b[^;(]*\(?((?:lua|luaL|luaopen)_\w+)")
            .Select(m => m.Groups[1].Value).ToHashSet();
        api.Add("lua_ident");
        await Assert.That(api.Count).IsGreaterThan(140);

        string[] runtime = ["DotNetRuntimeDebugHeader", "V1.0", "stdin", "stdout", "stderr"];
        await Assert.That(exported.Except(runtime).Except(api).OrderBy(s => s, StringComparer.Ordinal).ToArray()).IsEmpty();
        await Assert.That(api.Except(exported).OrderBy(s => s, StringComparer.Ordinal).ToArray()).IsEmpty();
    }

    /// <summary>Exporting the API added no dependency: ldd lists libc, libm and the loader.</summary>
    [Test]
    public async Task SharedLibraryDependencies_AreLibcLibmAndTheLoader()
    {
        string ldd = await RunTool("ldd", MonaProcess.BinaryPath);
        var libraries = ldd.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => Path.GetFileName(line.Trim().Split(' ')[0]))
            .Where(name => name != "linux-vdso.so.1")
            .OrderBy(s => s, StringComparer.Ordinal).ToArray();
        await Assert.That(libraries).IsEquivalentTo(new[] { "ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6" });
    }

    private static async Task<string> RunTool(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(Wait);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new TimeoutException($"{file} did not finish within {Wait}");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} exited with {process.ExitCode}: {await error}");
        return await output;
    }
}
