using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using MonaAot.Lua;
using MonaAot.Lua.Native;
using MonaAot.Tests.Lua;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Fuzz;

/// <summary>
/// Fuzzing of mona:fromJSON (native/shim/mona_json.c), the parser of outside input scripts
/// call most: the Unit level's fuzzer (<see cref="Mutator"/>, MONAAOT_FUZZ_ITERATIONS and
/// MONAAOT_FUZZ_SEED as in ParserFuzzTests) on a JSON corpus (Fuzz/corpus/json) and generated
/// texts (<see cref="JsonGenerator"/>), plus what a mutator rarely reaches: deep nesting (100,000
/// '['), huge numbers, invalid UTF-8 in strings. Here rather than in Unit because it needs a Lua
/// state. The rule checked: an answer is a value, which mona:toJSON writes and which reads back
/// equal, or nil and a message "... at N" with N inside the text (or one past its end); never a
/// crash, a raised error or anything else.
/// </summary>
public class JsonFuzzTests
{
    private static int Iterations =>
        int.TryParse(Environment.GetEnvironmentVariable("MONAAOT_FUZZ_ITERATIONS"), out int n) && n > 0 ? n : 20_000;

    private static int Seed =>
        int.TryParse(Environment.GetEnvironmentVariable("MONAAOT_FUZZ_SEED"), out int seed) ? seed : Environment.TickCount;

    private const string Check = JsonTests.DeepEqual + """
        return function(text)
          local v, problem = mona:fromJSON(text)
          if v == nil then
            if type(problem) ~= "string" then return "nil without a message" end
            local at = tonumber(problem:match(" at (%d+)$"))
            if not at or at < 1 or at > #text + 1 then return "message without a position in the text: " .. problem end
            return "refused"
          end
          local written = mona:toJSON(v)
          local back, again = mona:fromJSON(written)
          if back == nil then return "written text not read: " .. again end
          local ok, why = same(v, back, "")
          if not ok then return "read back different at " .. why end
          return "read"
        end
        """;

    /// <summary>What a mutator rarely makes by itself.</summary>
    private static byte[] Special(Random random)
    {
        string text = random.Next(8) switch
        {
            0 => new string('[', random.Next(990, 100_001)) + new string(']', random.Next(2) == 0 ? 0 : random.Next(990, 1_010)),
            1 => string.Concat(Enumerable.Repeat("{\"a\":", random.Next(990, 1_010))) + "1" + new string('}', 1_010),
            2 => (random.Next(2) == 0 ? "-" : "") + new string('9', random.Next(1, 5_000)) + (random.Next(2) == 0 ? "" : ".5"),
            3 => "1e" + (random.Next(2) == 0 ? "-" : "") + new string('9', random.Next(1, 400)),
            4 => "0." + new string('0', random.Next(1, 2_000)) + "1e" + random.Next(-400, 400),
            _ => "",
        };
        if (text.Length > 0)
            return Encoding.ASCII.GetBytes(text);
        // A string with raw bytes of every kind: stray continuation bytes, truncated and overlong
        // sequences, surrogates, bytes above U+10FFFF, control characters.
        var bytes = new List<byte> { (byte)'[', (byte)'"' };
        for (int i = random.Next(1, 40); i > 0; i--)
            bytes.Add((byte)random.Next(256));
        bytes.Add((byte)'"');
        bytes.Add((byte)']');
        return bytes.ToArray();
    }

    [Test]
    [Timeout(180_000)]
    public async Task FromJson_AnswersAValueOrNilAndWhere(System.Threading.CancellationToken cancel)
    {
        int seed = Seed;
        var random = new Random(seed);
        var corpus = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fuzz", "corpus", "json")).Order()
            .Select(File.ReadAllBytes).ToList();
        for (int i = 0; i < 200; i++)
            corpus.Add(Encoding.UTF8.GetBytes(JsonGenerator.Text(random)));
        var mutator = new Mutator(corpus, seed);
        using LuaVm vm = JsonTests.NewVm();
        await Assert.That(vm.Load(Encoding.UTF8.GetBytes(Check), "check.lua", out _)).IsTrue();
        await Assert.That(vm.Call(0, 1, out _)).IsTrue();
        vm.State.SetGlobal("check");
        var answers = new Dictionary<string, int>();
        for (int i = 0; i < Iterations; i++)
        {
            byte[] input = i % 50 == 0 ? Special(random) : mutator.Next();
            string answer = Answer(vm, input);
            if (answer != "read" && answer != "refused")
            {
                string shown = Convert.ToBase64String(input);
                Assert.Fail($"seed {seed}, input {i} (base64 {shown[..Math.Min(shown.Length, 2000)]}): {answer}");
            }
            answers[answer] = answers.GetValueOrDefault(answer) + 1;
            cancel.ThrowIfCancellationRequested();
        }
        // Both answers were reached: the corpus and mutations are neither all valid nor all broken.
        await Assert.That(answers.GetValueOrDefault("read")).IsGreaterThan(Iterations / 20);
        await Assert.That(answers.GetValueOrDefault("refused")).IsGreaterThan(Iterations / 20);
    }

    private static unsafe string Answer(LuaVm vm, byte[] input)
    {
        vm.State.GetGlobal("check");
        fixed (byte* bytes = input)
            LuaApi.lua_pushlstring(vm.L, bytes, (nuint)input.Length);
        if (!vm.Call(1, 1, out string error))
            return "raised: " + error;
        string answer = vm.State.ToString(-1);
        LuaApi.lua_pop(vm.L, 1);
        return answer;
    }
}
