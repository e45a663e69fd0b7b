using System;
using System.Text;
using System.Threading.Tasks;
using MonaAot.Lua;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Lua;

/// <summary>native/shim/mona_alloc.c: the Lua state's allocator recycles small blocks on free
/// lists, so these check that what Lua stores survives that recycling and that the byte count
/// it keeps is Lua's own.</summary>
public class AllocatorTests
{
    private static string Run(LuaVm vm, string code)
    {
        if (!vm.Load(Encoding.UTF8.GetBytes(code), "alloc.lua", out string error))
            return "load error: " + error;
        if (!vm.Call(0, 1, out error))
            return "error: " + error;
        string result = LuaStrings.ToText(vm.L, -1) ?? LuaStrings.TypeName(vm.L, -1);
        LuaApi.lua_pop(vm.L, 1);
        return result;
    }

    // Strings and tables of every small size (and some past the free lists' 256 bytes), freed
    // and made again over several collections, each checked against its recipe at the end.
    private const string Churn = """
        local kept = {}
        for round = 1, 20 do
          for i = 1, 2000 do
            local n = (i * 7 + round) % 600 + 1
            local s = string.rep(string.char(65 + i % 26), n) .. i
            local t = {}
            for k = 1, i % 40 do t[k] = k end
            if i % 10 == round % 10 then kept[#kept + 1] = {s = s, n = n, i = i, t = t} end
          end
          collectgarbage()
        end
        for _, e in ipairs(kept) do
          if e.s ~= string.rep(string.char(65 + e.i % 26), e.n) .. e.i then return "corrupt string " .. e.i end
          if #e.t ~= e.i % 40 then return "corrupt table " .. e.i end
          for k = 1, #e.t do if e.t[k] ~= k then return "corrupt table " .. e.i end end
        end
        return #kept
        """;

    [Test]
    public async Task RecycledBlocks_KeepTheirContents()
    {
        using LuaVm vm = new();

        await Assert.That(Run(vm, Churn)).IsEqualTo("4000");
    }

    [Test]
    public async Task MemoryInUse_IsLuasOwnCount()
    {
        using LuaVm vm = new();
        Run(vm, Churn);

        // collectgarbage("count") is Lua's total in KiB, with the bytes as its fraction.
        string count = Run(vm, "collectgarbage() return string.format('%.0f', collectgarbage('count') * 1024)");
        long expected = long.Parse(count);

        // The call that asked left a few blocks (its chunk, the result string) to the next
        // collection; what matters is that the allocator counts what Lua counts.
        await Assert.That(Math.Abs(vm.MemoryInUse - expected)).IsLessThan(4096);
        await Assert.That(vm.MemoryInUse).IsGreaterThan(10_000);
    }
}
