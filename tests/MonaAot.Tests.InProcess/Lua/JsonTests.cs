using System;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using MonaAot.Lua;
using MonaAot.Lua.Binding;
using MonaAot.Lua.Native;
using MonaAot.Tests.Support;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Lua;

/// <summary>
/// mona:toJSON, mona:fromJSON, mona.null and mona.array (docs/api.md, "JSON"; the codec is
/// native/shim/mona_json.c): every mapping rule, both ways, on a Lua state with the codec
/// installed in a global mona, and once in a real application.
/// </summary>
public class JsonTests
{
    /// <summary>A Lua state whose global mona holds only the JSON functions and values.</summary>
    internal static LuaVm NewVm()
    {
        var vm = new LuaVm();
        LuaApi.lua_newtable(vm.L);
        Shim.mona_json_install(vm.L);
        vm.State.SetGlobal("mona");
        return vm;
    }

    /// <summary>Runs a chunk; what it returned as text, or "error: " and its message.</summary>
    internal static string Run(LuaVm vm, string code)
    {
        if (!vm.Load(Encoding.UTF8.GetBytes(code), "test.lua", out string error))
            return "load error: " + error;
        if (!vm.Call(0, 1, out error))
            return "error: " + error.Split('\n')[0];
        string result = LuaStrings.ToText(vm.L, -1) ?? LuaStrings.TypeName(vm.L, -1);
        LuaApi.lua_pop(vm.L, 1);
        return result;
    }

    private static string Run(string code)
    {
        using LuaVm vm = NewVm();
        return Run(vm, code);
    }

    /// <summary>The message of a call that must raise, without the position Lua puts first.</summary>
    private static string Raised(string call) =>
        Run($"local ok, message = pcall(function() return {call} end) assert(not ok, 'no error') return (message:gsub('^[^:]*:%d+: ', ''))");

    [Test]
    [Arguments("nil", "null")]
    [Arguments("mona.null", "null")]
    [Arguments("true", "true")]
    [Arguments("false", "false")]
    [Arguments("42", "42")]
    [Arguments("-7", "-7")]
    [Arguments("math.maxinteger", "9223372036854775807")]
    [Arguments("math.mininteger", "-9223372036854775808")]
    [Arguments("1.5", "1.5")]
    [Arguments("2.0", "2.0")]
    [Arguments("-0.0", "-0.0")]
    [Arguments("0.1", "0.1")]
    [Arguments("1/3", "0.3333333333333333")] // 16 digits: the 15 of %.15g do not read back as 1/3
    [Arguments("1e308", "1e+308")]
    [Arguments("1e15", "1e+15")]
    [Arguments("123456.789", "123456.789")]
    public async Task Scalars_AreWritten(string value, string expected)
    {
        await Assert.That(Run($"return mona:toJSON({value})")).IsEqualTo(expected);
    }

    [Test]
    public async Task Floats_ReadBackExactly()
    {
        // Random doubles of every magnitude (from random bits), and edge values: each written
        // text reads back (string -> number in Lua, and mona:fromJSON) as the same float.
        string result = Run("""
            math.randomseed(7)
            local values = { 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1 + 0.2, 1e21, 1e22, 123e-20, 9007199254740993.0 }
            for _ = 1, 20000 do
              local v = string.unpack("<d", string.pack("<i8", math.random(math.mininteger, math.maxinteger)))
              if v == v and v ~= math.huge and v ~= -math.huge then values[#values + 1] = v end
            end
            for _, v in ipairs(values) do
              local text = mona:toJSON(v)
              local back = mona:fromJSON(text)
              if math.type(back) ~= "float" or back ~= v then return "differs: " .. string.format("%.17g", v) .. " -> " .. text end
              if #text > 25 then return "long: " .. text end
            end
            return "ok " .. #values
            """);
        await Assert.That(result).StartsWith("ok ");
    }

    [Test]
    [Arguments("0/0", "JSON cannot hold nan at the top level")]
    [Arguments("{ x = math.huge }", "JSON cannot hold inf at .x")]
    [Arguments("{ -math.huge }", "JSON cannot hold -inf at [1]")]
    [Arguments("{ a = { b = { 1, 2, print } } }", "cannot write a function at .a.b[3]")]
    [Arguments("{ co = coroutine.create(print) }", "cannot write a thread at .co")]
    [Arguments("{ f = io.stdout }", "cannot write a userdata at .f")]
    [Arguments("{ [true] = 1 }", "cannot write a boolean key (JSON keys are strings) in the table at the top level")]
    [Arguments("{ a = { [1.5] = 1 } }", "cannot write a float key (JSON keys are strings) in the table at .a")]
    [Arguments("{ [{}] = 1 }", "cannot write a table key (JSON keys are strings) in the table at the top level")]
    [Arguments("setmetatable({ a = 1 }, mona.array)", "cannot write a mona.array whose keys are not 1..n at the top level")]
    [Arguments("'\\xff'", "cannot write a string that is not UTF-8 (byte 1) at the top level")]
    [Arguments("{ s = 'ab\\xe6\\x97' }", "cannot write a string that is not UTF-8 (byte 3) at .s")]
    [Arguments("{ 'a', '\\xc0\\x80' }", "cannot write a string that is not UTF-8 (byte 1) at [2]")] // overlong NUL
    [Arguments("'\\xed\\xa0\\x80'", "cannot write a string that is not UTF-8 (byte 1) at the top level")] // a surrogate
    [Arguments("'\\xf4\\x90\\x80\\x80'", "cannot write a string that is not UTF-8 (byte 1) at the top level")] // above U+10FFFF
    [Arguments("{ ['k\\xff'] = 1 }", "cannot write a key that is not UTF-8 (byte 2) in the table at the top level")]
    public async Task UnwritableValues_RaiseWithWhere(string value, string expected)
    {
        await Assert.That(Raised($"mona:toJSON({value})")).IsEqualTo(expected);
    }

    /// <summary>Tables that mix items and named fields, nested: each value is written once.
    /// Written as an array first and again as an object, this took twice as long per level
    /// (2^40 writes for the chain here): the test's timeout is what would fail.</summary>
    [Test]
    [Timeout(60_000)]
    public async Task MixedTables_NestedDeep_AreWrittenOnce(CancellationToken cancel)
    {
        string chain = Run("""
            local t = { 1, x = 1 }
            for _ = 1, 40 do t = { t, x = 1 } end
            local text = mona:toJSON(t)
            local back = mona:fromJSON(text)
            local depth = 0
            while type(back) == "table" and back["1"] do back, depth = back["1"], depth + 1 end
            return depth .. " " .. #text
            """);
        await Assert.That(chain).StartsWith("41 "); // 40 wrappings, then the innermost table's item
        string tree = Run("""
            local function ast(d) if d == 0 then return { tag = "Num", 1 } end return { tag = "Add", ast(d - 1), ast(d - 1) } end
            local text = mona:toJSON(ast(14))
            local _, adds = text:gsub('"tag":"Add"', "")
            return adds
            """);
        await Assert.That(tree).IsEqualTo(((1 << 14) - 1).ToString());
    }

    [Test]
    public async Task CalledWithADot_Raises()
    {
        await Assert.That(Raised("mona.toJSON({ 1, 2 })")).IsEqualTo("bad argument #1 to 'toJSON' (mona expected, then the value (call it as mona:toJSON(value)))");
        await Assert.That(Raised("mona:toJSON()")).IsEqualTo("bad argument #1 to 'toJSON' (mona expected, then the value (call it as mona:toJSON(value)))");
        await Assert.That(Raised("mona.fromJSON('[1]')")).IsEqualTo("bad argument #1 to 'fromJSON' (mona expected, then the value (call it as mona:fromJSON(text)))");
        await Assert.That(Run("return mona:toJSON(nil)")).IsEqualTo("null");
    }

    [Test]
    public async Task Cycles_AndDeepNesting_RaiseWithAMessage()
    {
        await Assert.That(Raised("(function() local t = { a = {} } t.a.back = t return mona:toJSON(t) end)()"))
            .IsEqualTo("cannot write a table that contains itself (a cycle) at .a.back");
        await Assert.That(Raised("(function() local t = {} t[1] = t return mona:toJSON(t) end)()"))
            .IsEqualTo("cannot write a table that contains itself (a cycle) at [1]");
        // 1,000 levels are written; 1,001 are not (the path is shortened to its end).
        await Assert.That(Run("local t = {} for _ = 2, 1000 do t = { t } end local s = mona:toJSON(t) return #s"))
            .IsEqualTo("2000");
        await Assert.That(Raised("(function() local t = {} for _ = 2, 1001 do t = { t } end return mona:toJSON(t) end)()"))
            .IsEqualTo("cannot write tables nested deeper than 1000 levels at ...[1][1][1][1][1][1][1][1][1][1][1][1]");
        // The same table twice is not a cycle.
        await Assert.That(Run("local s = { 1 } return mona:toJSON({ s, s, { s } })")).IsEqualTo("[[1],[1],[[1]]]");
    }

    [Test]
    [Arguments("'a\"b\\\\c/d'", "\"a\\\"b\\\\c/d\"")]
    [Arguments("'\\n\\r\\t\\b\\f'", "\"\\n\\r\\t\\b\\f\"")]
    [Arguments("'\\0\\1\\31\\127'", "\"\\u0000\\u0001\\u001f\\u007f\"")]
    [Arguments("'café 日本 🎉'", "\"café 日本 🎉\"")]
    [Arguments("''", "\"\"")]
    public async Task Strings_AreEscaped(string value, string expected)
    {
        await Assert.That(Run($"return mona:toJSON({value})")).IsEqualTo(expected);
    }

    [Test]
    public async Task LongStrings_RoundTrip()
    {
        // Written by chunks (mona_json.c): escapes and UTF-8 sequences across their edges.
        await Assert.That(Run("""
            local parts = {}
            for i = 1, 300000 do parts[i] = ({ "a", "\"", "\n", "é", "日", "🎉", "\0", "/" })[i % 8 + 1] end
            local s = table.concat(parts)
            local text = mona:toJSON({ s, "x" .. s, false })
            local back = mona:fromJSON(text)
            return tostring(back[1] == s and back[2] == "x" .. s) .. " " .. #text
            """)).IsEqualTo("true 1575014"); // 2 x 37,500 x 21 bytes, "x", quotes, commas, false
        await Assert.That(Raised("mona:toJSON(string.rep('é', 100000) .. '\\xff')"))
            .IsEqualTo("cannot write a string that is not UTF-8 (byte 200001) at the top level");
    }

    [Test]
    [Arguments("{ 1, 2, 3 }", "[1,2,3]")]
    [Arguments("{ [3] = 'c', [1] = 'a', [2] = 'b' }", "[\"a\",\"b\",\"c\"]")]
    [Arguments("{ 1, nil, 3 }", "{\"1\":1,\"3\":3}")]
    [Arguments("{ [0] = 'z' }", "{\"0\":\"z\"}")]
    [Arguments("{ [-1] = 'n' }", "{\"-1\":\"n\"}")]
    [Arguments("{ [10] = true }", "{\"10\":true}")]
    [Arguments("{ a = 1 }", "{\"a\":1}")]
    [Arguments("{ a = mona.null }", "{\"a\":null}")]
    [Arguments("{ mona.null, false }", "[null,false]")]
    [Arguments("{}", "{}")]
    [Arguments("setmetatable({}, mona.array)", "[]")]
    [Arguments("setmetatable({ 'x' }, mona.array)", "[\"x\"]")]
    [Arguments("{ e = setmetatable({}, mona.array), o = nil }", "{\"e\":[]}")]
    [Arguments("setmetatable({}, { __index = function() return 1 end, __len = function() return 3 end })", "{}")]
    [Arguments("{ { { {} } } }", "[[[{}]]]")]
    public async Task Tables_AreArraysOrObjects(string value, string expected)
    {
        await Assert.That(Run($"return mona:toJSON({value})")).IsEqualTo(expected);
    }

    [Test]
    [Arguments("'{\"a\":[1,2.5,\"x\",true,false,null]}'", "{\"a\":[1,2.5,\"x\",true,false,null]}")]
    [Arguments("' { \"a\" : 1 } '", "{\"a\":1}")]
    [Arguments("'\\t\\r\\n [ ] '", "[]")]
    [Arguments("'{}'", "{}")]
    [Arguments("'\"\\\\u00e9\\\\/\\\\b\\\\u0000\"'", "\"é/\\b\\u0000\"")]
    [Arguments("'\"\\\\ud83d\\\\ude00\"'", "\"😀\"")]
    [Arguments("'\"\\\\uD83D\\\\uDE00\"'", "\"😀\"")]
    [Arguments("'\"日本\"'", "\"日本\"")]
    [Arguments("'{\"a\":1,\"a\":2}'", "{\"a\":2}")] // the last of duplicate keys
    [Arguments("'{\"1\":1}'", "{\"1\":1}")]
    [Arguments("'1E2'", "100.0")]
    [Arguments("'-1.5e-3'", "-0.0015")]
    [Arguments("'99999999999999999999'", "1e+20")]
    [Arguments("'-0'", "-0.0")]
    public async Task Texts_AreRead(string text, string expected)
    {
        await Assert.That(Run($"local v, m = mona:fromJSON({text}) if v == nil then return m end return mona:toJSON(v)")).IsEqualTo(expected);
    }

    [Test]
    [Arguments("'12'", "integer 12")]
    [Arguments("'-12'", "integer -12")]
    [Arguments("'12.0'", "float 12.0")]
    [Arguments("'1e2'", "float 100.0")]
    [Arguments("'9223372036854775807'", "integer 9223372036854775807")]
    [Arguments("'-9223372036854775808'", "integer -9223372036854775808")]
    [Arguments("'9223372036854775808'", "float 9.2233720368548e+18")]
    [Arguments("'123456789012345678'", "integer 123456789012345678")]
    [Arguments("'1e-400'", "float 0.0")]
    public async Task Numbers_KeepTheirKind(string text, string expected)
    {
        await Assert.That(Run($"local v = mona:fromJSON({text}) return math.type(v) .. ' ' .. tostring(v)")).IsEqualTo(expected);
    }

    [Test]
    [Arguments("''", "unexpected end at 1")]
    [Arguments("'   '", "unexpected end at 4")]
    [Arguments("'['", "unexpected end at 2")]
    [Arguments("'[1,]'", "unexpected character at 4")]
    [Arguments("'{\"a\":1,}'", "unexpected character at 8")]
    [Arguments("'{\"a\" 1}'", "unexpected character at 6")]
    [Arguments("'{a:1}'", "unexpected character at 2")]
    [Arguments("'[1 2]'", "unexpected character at 4")]
    [Arguments("'[1] x'", "unexpected character at 5")]
    [Arguments("'// c\\n1'", "unexpected character at 1")]
    [Arguments("'/* c */ 1'", "unexpected character at 1")]
    [Arguments("'01'", "invalid number (leading zero) at 1")]
    [Arguments("'-01'", "invalid number (leading zero) at 1")]
    [Arguments("'+1'", "unexpected character at 1")]
    [Arguments("'.5'", "unexpected character at 1")]
    [Arguments("'1.'", "invalid number at 1")]
    [Arguments("'1e'", "invalid number at 1")]
    [Arguments("'-'", "invalid number at 1")]
    [Arguments("'0x10'", "unexpected character at 2")]
    [Arguments("'NaN'", "unexpected character at 1")]
    [Arguments("'Infinity'", "unexpected character at 1")]
    [Arguments("'[-Infinity]'", "invalid number at 2")]
    [Arguments("'1e400'", "number out of range at 1")]
    [Arguments("'[-1e400]'", "number out of range at 2")]
    [Arguments("'tru'", "unexpected character at 1")]
    [Arguments("'True'", "unexpected character at 1")]
    [Arguments("'nul'", "unexpected character at 1")]
    [Arguments("'\"abc'", "unterminated string at 1")]
    [Arguments("'\"abc\\\\'", "unterminated string at 1")]
    [Arguments("'\"a\\1b\"'", "control character in a string at 3")]
    [Arguments("'\"a\\tb\"'", "control character in a string at 3")]
    [Arguments("'\"a\\xffb\"'", "invalid UTF-8 at 3")]
    [Arguments("'\"\\xc0\\x80\"'", "invalid UTF-8 at 2")]
    [Arguments("'\"\\xed\\xa0\\x80\"'", "invalid UTF-8 at 2")]
    [Arguments("'\"\\xe6\\x97\"'", "invalid UTF-8 at 2")]
    [Arguments("'\"\\\\x\"'", "invalid escape at 2")]
    [Arguments("'\"\\\\\\'\"'", "invalid escape at 2")]
    [Arguments("'\"\\\\u12\"'", "invalid \\u escape at 2")]
    [Arguments("'\"\\\\u12G4\"'", "invalid \\u escape at 2")]
    [Arguments("'\"\\\\ud800\"'", "lone surrogate in a \\u escape at 2")]
    [Arguments("'\"\\\\udc00\\\\ud800\"'", "lone surrogate in a \\u escape at 2")]
    [Arguments("'\"x\\\\ud800\\\\u0041\"'", "lone surrogate in a \\u escape at 3")]
    [Arguments("'\\v1'", "unexpected character at 1")]
    [Arguments("'\\xc2\\xa0 1'", "unexpected character at 1")] // a no-break space is not JSON's whitespace
    [Arguments("'\\xef\\xbb\\xbf{}'", "unexpected character at 1")] // nor is a byte order mark
    public async Task BadTexts_AnswerNilAndWhere(string text, string expected)
    {
        await Assert.That(Run($"local v, m = mona:fromJSON({text}) assert(v == nil) return m")).IsEqualTo(expected);
    }

    [Test]
    public async Task Nesting_IsLimitedTo1000Levels()
    {
        await Assert.That(Run("local v = mona:fromJSON(string.rep('[', 1000) .. string.rep(']', 1000)) local n = 0 while v[1] do v = v[1] n = n + 1 end return n"))
            .IsEqualTo("999");
        await Assert.That(Run("return select(2, mona:fromJSON(string.rep('[', 1001) .. string.rep(']', 1001)))"))
            .IsEqualTo("nesting deeper than 1000 levels at 1001");
        await Assert.That(Run("return select(2, mona:fromJSON(string.rep('{\"a\":', 1001) .. '1' .. string.rep('}', 1001)))"))
            .IsEqualTo("nesting deeper than 1000 levels at 5001");
        await Assert.That(Run("return select(2, mona:fromJSON(string.rep('[', 100000)))"))
            .IsEqualTo("nesting deeper than 1000 levels at 1001");
    }

    [Test]
    public async Task Arguments_AreChecked()
    {
        await Assert.That(Raised("mona:fromJSON({})")).Contains("bad argument #1 to 'fromJSON' (string expected, got table)");
        await Assert.That(Raised("mona:fromJSON()")).Contains("bad argument #1 to 'fromJSON' (string expected, got no value)");
    }

    [Test]
    public async Task Null_IsOneValue_PrintedAsNull()
    {
        await Assert.That(Run("return tostring(mona.null)")).IsEqualTo("null");
        await Assert.That(Run("return type(mona.null)")).IsEqualTo("userdata");
        await Assert.That(Run("return tostring(mona:fromJSON('null') == mona.null)")).IsEqualTo("true");
        await Assert.That(Run("return tostring(mona.null ~= nil and mona.null ~= false and mona.null ~= 0 and mona.null ~= '' and mona.null ~= 'null')")).IsEqualTo("true");
        await Assert.That(Run("local t = { mona.null, x = mona.null } return tostring(t[1] == mona.null and t.x == mona.null)")).IsEqualTo("true");
        await Assert.That(Run("local v = mona:fromJSON('{\"a\":null,\"b\":[null]}') return tostring(v.a == mona.null and v.b[1] == mona.null and #v.b == 1)")).IsEqualTo("true");
        await Assert.That(Run("return tostring(not pcall(setmetatable, mona.null, {}))")).IsEqualTo("true");
        await Assert.That(Run("return getmetatable(mona.null)")).IsEqualTo("mona.null");
        await Assert.That(Run("return select(2, pcall(string.rep, mona.null))")).Contains("got mona.null");
    }

    [Test]
    public async Task DecodedArrays_HaveTheArrayMetatable()
    {
        await Assert.That(Run("return tostring(getmetatable(mona:fromJSON('[]')) == mona.array)")).IsEqualTo("true");
        await Assert.That(Run("return tostring(getmetatable(mona:fromJSON('[1]')) == mona.array)")).IsEqualTo("true");
        await Assert.That(Run("return tostring(getmetatable(mona:fromJSON('{}')))")).IsEqualTo("nil");
        await Assert.That(Run("return mona:toJSON(mona:fromJSON('{\"a\":[],\"b\":{}}').a)")).IsEqualTo("[]");
    }

    /// <summary>Deep equality in Lua: the same types (integer and float apart), values and keys.</summary>
    internal const string DeepEqual = """
        local function same(a, b, path)
          if type(a) ~= type(b) then return false, path .. ": " .. type(a) .. " vs " .. type(b) end
          if type(a) == "number" then
            if math.type(a) ~= math.type(b) then return false, path .. ": " .. math.type(a) .. " vs " .. math.type(b) end
            if a ~= b or (a == 0 and 1 / a ~= 1 / b) then return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b) end
            return true
          end
          if type(a) ~= "table" then
            if a ~= b then return false, path .. ": " .. tostring(a) .. " vs " .. tostring(b) end
            return true
          end
          for k, v in pairs(a) do
            local ok, why = same(v, b[k], path .. "." .. tostring(k))
            if not ok then return false, why end
          end
          for k in pairs(b) do
            if a[k] == nil then return false, path .. "." .. tostring(k) .. " added" end
          end
          return true
        end
        """ + "\n";

    [Test]
    public async Task RandomLuaValues_RoundTrip()
    {
        // Random values of every kind JSON holds -> text -> an equal value (integers stay
        // integers, floats floats, strings byte for byte, empty arrays marked mona.array).
        string result = Run(DeepEqual + """
            math.randomseed(20261205)
            local r = math.random
            local function text()
              local parts = {}
              for i = 1, r(0, 12) do
                local pick = r(1, 10)
                local code
                if pick <= 4 then code = r(32, 126)
                elseif pick == 5 then code = r(0, 31)
                elseif pick == 6 then code = ({ 34, 92, 47, 127 })[r(1, 4)]
                elseif pick <= 8 then code = r(128, 0xD7FF)
                elseif pick == 9 then code = r(0xE000, 0xFFFF)
                else code = r(0x10000, 0x10FFFF) end
                parts[i] = utf8.char(code)
              end
              return table.concat(parts)
            end
            local function value(depth)
              local pick = r(1, depth > 4 and 6 or 9)
              if pick == 1 then return mona.null
              elseif pick == 2 then return r(0, 1) == 1
              elseif pick == 3 then return r(math.mininteger, math.maxinteger) >> r(0, 63)
              elseif pick == 4 then
                local v repeat v = string.unpack("<d", string.pack("<i8", r(math.mininteger, math.maxinteger))) until v == v and v ~= math.huge and v ~= -math.huge
                return v
              elseif pick == 5 then return r(-1000, 1000) / 8
              elseif pick == 6 then return text()
              elseif pick <= 8 then
                local t = setmetatable({}, mona.array)
                for i = 1, r(0, 5) do t[i] = value(depth + 1) end
                return t
              else
                local t = {}
                for _ = 1, r(0, 5) do t[text()] = value(depth + 1) end
                return t
              end
            end
            for i = 1, 3000 do
              local v = value(0)
              local json = mona:toJSON(v)
              local back, problem = mona:fromJSON(json)
              if back == nil then return "value " .. i .. " not read back: " .. problem .. " in " .. json end
              local ok, why = same(v, back, "")
              if not ok then return "value " .. i .. " differs at " .. why .. " in " .. json end
              if mona:toJSON(back) ~= json and not json:find("{", 1, true) then return "value " .. i .. " written differently" end
            end
            return "ok"
            """);
        await Assert.That(result).IsEqualTo("ok");
    }

    [Test]
    public async Task RandomJsonTexts_RoundTrip()
    {
        // Random valid texts from a generator here (every number form, escapes, whitespace) ->
        // value -> text -> the same value.
        var random = new Random(1205);
        using LuaVm vm = NewVm();
        await Assert.That(Run(vm, DeepEqual + """
            function check(text)
              local v, problem = mona:fromJSON(text)
              if v == nil then return "not read: " .. problem end
              local again = mona:toJSON(v)
              local back, problem2 = mona:fromJSON(again)
              if back == nil then return "written text not read: " .. problem2 end
              local ok, why = same(v, back, "")
              if not ok then return "differs at " .. why end
              return "ok"
            end
            return "ready"
            """)).IsEqualTo("ready");
        for (int i = 0; i < 3000; i++)
        {
            string text = JsonGenerator.Text(random);
            string result = Run(vm, "return check(" + LuaLiteral(text) + ")");
            if (result != "ok")
                Assert.Fail($"text {i}: {result} in {text}");
        }
    }

    /// <summary>A Lua long-bracket-free literal for any text: decimal escapes for every byte.</summary>
    internal static string LuaLiteral(string text)
    {
        var builder = new StringBuilder("\"");
        foreach (byte b in Encoding.UTF8.GetBytes(text))
            builder.Append('\\').Append(b);
        return builder.Append('"').ToString();
    }

    [Test]
    public async Task Calls_AllocateNothingManaged()
    {
        using LuaVm vm = NewVm();
        string loop = """
            local doc = {}
            for i = 1, 50 do doc[i] = { id = i, name = "n\"" .. i, f = i / 3, tags = { "a", "é" }, on = i % 2 == 0, z = mona.null } end
            local text = mona:toJSON(doc)
            return function(n)
              for _ = 1, n do
                local v = mona:fromJSON(text)
                mona:toJSON(v)
                mona:fromJSON("[1,") -- and the error answer
              end
            end
            """;
        await Assert.That(vm.Load(Encoding.UTF8.GetBytes(loop), "loop.lua", out _)).IsTrue();
        await Assert.That(vm.Call(0, 1, out _)).IsTrue();
        vm.State.SetGlobal("loop");
        // A first run long enough for the JIT to tier the host functions up (the Windows build
        // under Wine runs JIT, not Native AOT; a run once counted 6,456 bytes of its own there),
        // so that the measured runs see the final code; a byte per call would still show.
        Measure(vm, 2000);
        long few = Measure(vm, 10);
        long many = Measure(vm, 2010);
        await Assert.That(many - few).IsLessThanOrEqualTo(0);
    }

    private static long Measure(LuaVm vm, int calls)
    {
        vm.State.GetGlobal("loop");
        LuaApi.lua_pushinteger(vm.L, calls);
        long before = GC.GetAllocatedBytesForCurrentThread();
        bool ok = vm.Call(1, 0, out _);
        long after = GC.GetAllocatedBytesForCurrentThread();
        if (!ok)
            throw new InvalidOperationException("the loop failed");
        return after - before;
    }

    [Test]
    public async Task Applications_HaveTheCodec()
    {
        string result = await TcpApp.ResultOf("", """
            local v = mona:fromJSON('{"list":[],"n":null}')
            return mona:toJSON({ mona:toJSON(v.list), v.n == mona.null, tostring(mona.null), mona:toJSON({ k = 1.5 }) })
            """);
        await Assert.That(result).IsEqualTo("[\"[]\",true,\"null\",\"{\\\"k\\\":1.5}\"]");
    }
}
