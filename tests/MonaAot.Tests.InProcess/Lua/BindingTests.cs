using System;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using MonaAot.Lua;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Lua;

/// <summary>Host functions the binding tests call from Lua.</summary>
internal static unsafe class TestHostFunctions
{
    /// <summary>needsString(s [, n]): returns #s + n, or raises through the trampoline.</summary>
    [UnmanagedCallersOnly]
    private static int NeedsString(nint L) => HostFunction.Function(L, &NeedsStringBody);

    private static int NeedsStringBody(nint L)
    {
        if (!Args.String(L, 1, out ReadOnlySpan<byte> s, out int error))
            return error;
        long n = 0;
        if (!Args.IsNoneOrNil(L, 2) && !Args.Integer(L, 2, out n, out error))
            return error;
        LuaApi.lua_pushinteger(L, s.Length + n);
        return 1;
    }

    /// <summary>fail(): always raises a message built in C#.</summary>
    [UnmanagedCallersOnly]
    private static int Fail(nint L) => HostFunction.Function(L, &FailBody);

    private static int FailBody(nint L)
    {
        return HostFunction.Raise(L, "failed from C# " + LuaApi.lua_gettop(L));
    }

    /// <summary>collectAndFail(i): runs a collection from inside the host function (a full
    /// compacting one every 100th call), then raises.</summary>
    [UnmanagedCallersOnly]
    private static int CollectAndFail(nint L) => HostFunction.Function(L, &CollectAndFailBody);

    private static int CollectAndFailBody(nint L)
    {
        long i = LuaApi.lua_tointegerx(L, 1, null);
        GC.Collect(i % 100 == 0 ? 2 : 0, GCCollectionMode.Forced, blocking: true, compacting: i % 100 == 0);
        return HostFunction.Raise(L, "collected " + i);
    }

    /// <summary>context(): returns the string of the C# object behind upvalue 2.</summary>
    [UnmanagedCallersOnly]
    private static int ContextText(nint L) => HostFunction.Function<string>(L, &ContextText);

    private static int ContextText(nint L, string text)
    {
        LuaStrings.Push(L, text);
        return 1;
    }

    public static LuaVm NewVm()
    {
        var vm = new LuaVm();
        HostFunction.Push(vm.L, &NeedsString);
        vm.State.SetGlobal("needsString");
        HostFunction.Push(vm.L, &Fail);
        vm.State.SetGlobal("fail");
        HostFunction.Push(vm.L, &CollectAndFail);
        vm.State.SetGlobal("collectAndFail");
        return vm;
    }

    public static void SetContextFunction(LuaVm vm, string name, GCHandle context)
    {
        HostFunction.Push(vm.L, &ContextText, context);
        vm.State.SetGlobal(name);
    }
}

public class BindingTests
{
    public static LuaVm NewVm() => TestHostFunctions.NewVm();

    private static string Run(LuaVm vm, string code)
    {
        if (!vm.Load(System.Text.Encoding.UTF8.GetBytes(code), "test.lua", out string error))
            return "load error: " + error;
        if (!vm.Call(0, 1, out error))
            return "error: " + error;
        string result = LuaStrings.ToText(vm.L, -1) ?? LuaStrings.TypeName(vm.L, -1);
        LuaApi.lua_pop(vm.L, 1);
        return result;
    }

    [Test]
    [Arguments("return select(2, pcall(needsString, nil))", "bad argument #1 to 'needsString' (string expected, got nil)")]
    [Arguments("return select(2, pcall(needsString))", "bad argument #1 to 'needsString' (string expected, got no value)")]
    [Arguments("return select(2, pcall(needsString, {}))", "bad argument #1 to 'needsString' (string expected, got table)")]
    [Arguments("return select(2, pcall(needsString, 'a', 'http'))", "bad argument #2 to 'needsString' (number expected, got string)")]
    [Arguments("return select(2, pcall(needsString, 'a', 1.5))", "bad argument #2 to 'needsString' (number has no integer representation)")]
    [Arguments("return needsString('abc', '80')", "83")]
    [Arguments("return needsString(12)", "2")]
    public async Task ArgumentReaders_FollowLuaRules(string code, string expected)
    {
        using LuaVm vm = NewVm();

        await Assert.That(Run(vm, code)).IsEqualTo(expected);
    }

    [Test]
    public async Task ArgError_InMethodCall_CountsWithoutSelf()
    {
        using LuaVm vm = NewVm();

        string colon = Run(vm, "local o = {m = needsString} return select(2, pcall(function() return o:m() end))");

        // o:m() passes o as argument 1, a table: Lua reports it as the method's bad self.
        await Assert.That(colon).Contains("calling 'm' on bad self");
    }

    [Test]
    public async Task Raise_MessageReachesLuaWithPosition()
    {
        using LuaVm vm = NewVm();

        await Assert.That(Run(vm, "return select(2, pcall(fail, 1, 2))")).IsEqualTo("failed from C# 2");
    }

    [Test]
    public async Task Call_ErrorInScript_GivesTraceback()
    {
        using LuaVm vm = NewVm();

        string result = Run(vm, "local function inner() error('deep') end\ninner()");

        await Assert.That(result).StartsWith("error: test.lua:1: deep");
        await Assert.That(result).Contains("stack traceback:");
        await Assert.That(result).Contains("in local 'inner'");
    }

    [Test]
    public async Task Context_ReachesTheCSharpObject()
    {
        using LuaVm vm = NewVm();
        GCHandle handle = vm.Keep("the context");
        TestHostFunctions.SetContextFunction(vm, "context", handle);

        await Assert.That(Run(vm, "return context()")).IsEqualTo("the context");
    }

    /// <summary>
    /// The reason for the trampoline: errors raised on behalf of C# host functions, many of them,
    /// with collections in between (run from inside the host function itself) and garbage made
    /// on another thread meanwhile. A longjmp over a managed frame aborts the whole test process
    /// under this load; through the trampoline every error must arrive intact.
    /// </summary>
    [Test]
    [Timeout(120_000)]
    public async Task Trampoline_ManyErrorsUnderGcPressure_NoCrash(CancellationToken token)
    {
        using LuaVm vm = NewVm();
        using var stop = new CancellationTokenSource();
        Task garbage = Task.Run(() =>
        {
            var keep = new object[1024];
            // The index wraps by itself: a slow run (Wine on a loaded machine) counted past
            // int.MaxValue once.
            for (int i = 0; !stop.IsCancellationRequested; i = (i + 1) % keep.Length)
                keep[i] = new byte[512];
        });

        // Under Wine each forced collection suspends the garbage thread slowly (up to 2 min for
        // 20,000 on a loaded machine): fewer rounds there, the same checks.
        int rounds = OperatingSystem.IsWindows() ? 5000 : 20000;
        string result = Run(vm, """
            local n = 0
            for i = 1, ROUNDS do
              local ok1, e1 = pcall(collectAndFail, i)
              local ok2, e2 = pcall(needsString, nil)
              local ok3, e3 = pcall(fail, i)
              if not ok1 and not ok2 and not ok3 and e1 == 'collected ' .. i
                 and e2:find('string expected', 1, true) and e3 == 'failed from C# 1' then
                n = n + 1
              end
              if i % 1000 == 0 then collectgarbage() end
            end
            return n
            """.Replace("ROUNDS", rounds.ToString()));
        stop.Cancel();
        await garbage;

        await Assert.That(result).IsEqualTo(rounds.ToString());
    }
}
