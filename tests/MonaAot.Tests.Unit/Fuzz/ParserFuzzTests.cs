using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Text;
using System.Threading.Tasks;
using MonaAot.Configuration;
using MonaAot.Net;
using TUnit.Assertions;
using TUnit.Assertions.Extensions;
using TUnit.Core;

namespace MonaAot.Tests.Fuzz;

/// <summary>
/// Fuzzing of what parses outside input: the ini reader (and the typed settings read from it,
/// and mona.configs' typing), the address splitter scripts' "host:port" goes through, the
/// command line, and the PROXY protocol header a balancer sends. Inputs are mutations of the corpus in Fuzz/corpus/ (<see cref="Mutator"/>).
/// A short run in every test run; MONAAOT_FUZZ_ITERATIONS runs longer, MONAAOT_FUZZ_SEED
/// replays a run. The rule checked: a parser answers or reports the problem in its own way
/// (ConfigurationException, an error string), never anything else.
/// </summary>
public class ParserFuzzTests
{
    private static int Iterations =>
        int.TryParse(Environment.GetEnvironmentVariable("MONAAOT_FUZZ_ITERATIONS"), out int n) && n > 0 ? n : 20_000;

    private static int Seed =>
        int.TryParse(Environment.GetEnvironmentVariable("MONAAOT_FUZZ_SEED"), out int seed) ? seed : Environment.TickCount;

    private static List<byte[]> Corpus(string kind) =>
        Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fuzz", "corpus", kind)).Order().Select(File.ReadAllBytes).ToList();

    /// <summary>Runs <paramref name="check"/> on every input; the first unexpected exception
    /// comes back with what replays it.</summary>
    private static string? Run(string kind, Action<byte[]> check)
    {
        int seed = Seed;
        var mutator = new Mutator(Corpus(kind), seed);
        for (int i = 0; i < Iterations; i++)
        {
            byte[] input = mutator.Next();
            try
            {
                check(input);
            }
            catch (Exception e)
            {
                string shown = Convert.ToBase64String(input);
                return $"seed {seed}, input {i} (base64 {shown[..Math.Min(shown.Length, 2000)]}): {e}";
            }
        }
        return null;
    }

    [Test]
    [Timeout(120_000)]
    public async Task IniReader_AnswersOrNamesTheLine(System.Threading.CancellationToken cancel)
    {
        string? failure = Run("ini", bytes =>
        {
            string text = Encoding.UTF8.GetString(bytes);
            IniFile ini;
            try
            {
                ini = IniFile.Parse(text, "fuzz.ini");
            }
            catch (ConfigurationException e) when (e.Message.StartsWith("fuzz.ini:"))
            {
                return; // a malformed line, named
            }
            int lines = text.Split('\n').Length;
            foreach (IniEntry entry in ini.Entries)
            {
                if (entry.Line < 1 || entry.Line > lines)
                    throw new InvalidOperationException($"entry {entry.FlatKey} on line {entry.Line} of {lines}");
                if (entry.Key != entry.Key.Trim() || entry.Value != entry.Value.Trim())
                    throw new InvalidOperationException($"untrimmed entry '{entry.Key}'='{entry.Value}'");
                ConfigValue.Parse(entry.Value);
            }
            foreach (Action read in new Action[]
                     {
                         () => ServerSettings.TcpLimitsOf(ini),
                         () => ServerSettings.SmtpOf(ini),
                         () => ServerSettings.LuaLimitsOf(ini),
                     })
            {
                try
                {
                    read();
                }
                catch (ConfigurationException e) when (e.Message.StartsWith("fuzz.ini:"))
                {
                    // a bad value, named with its line
                }
            }
        });

        await Assert.That(failure).IsNull();
    }

    [Test]
    [Timeout(120_000)]
    public async Task AddressSplitter_AnswersOrExplains_AndRoundTrips(System.Threading.CancellationToken cancel)
    {
        string? failure = Run("address", bytes =>
        {
            string text = Encoding.UTF8.GetString(bytes).TrimEnd('\n');
            string? error = AddressText.TrySplit(text, out string host, out int port);
            if (error is not null)
            {
                if (error.Length == 0 || error.Contains('\n'))
                    throw new InvalidOperationException($"error text '{error}'");
                return;
            }
            if (port is < 0 or > 65535)
                throw new InvalidOperationException($"port {port}");
            if (!IPAddress.TryParse(host, out IPAddress? ip))
                return; // a name: the resolver's business
            // What MonaAot prints for an address reads back as the same address.
            string shown = NetAddress.Format(ip, port);
            if (AddressText.TrySplit(shown, out string again, out int againPort) is { } reread)
                throw new InvalidOperationException($"'{shown}' does not read back: {reread}");
            if (againPort != port || !IPAddress.Parse(again).Equals(ip))
                throw new InvalidOperationException($"'{shown}' reads back as {again}:{againPort}");
        });

        await Assert.That(failure).IsNull();
    }

    [Test]
    [Timeout(120_000)]
    public async Task CommandLine_AnswersOrSaysWhatIsWrong(System.Threading.CancellationToken cancel)
    {
        string? failure = Run("args", bytes =>
        {
            string[] args = Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            try
            {
                CommandLine.Parse(args);
            }
            catch (ConfigurationException e) when (e.Message.Length > 0 && !e.Message.Contains('\n'))
            {
                // a one-line message, as the process prints it
            }
        });

        await Assert.That(failure).IsNull();
    }

    [Test]
    [Timeout(120_000)]
    public async Task ProxyHeader_AnswersOrExplains_AtAnyCut(System.Threading.CancellationToken cancel)
    {
        string? failure = Run("proxy", bytes =>
        {
            ProxyParse whole = ProxyHeader.Parse(bytes, out ProxyHeader header, out string? error);
            if (whole == ProxyParse.Invalid && string.IsNullOrEmpty(error))
                throw new InvalidOperationException("invalid without a reason");
            if (whole == ProxyParse.Done && (header.Length <= 0 || header.Length > bytes.Length || header.Length > ProxyHeader.MaxLength))
                throw new InvalidOperationException($"header length {header.Length} of {bytes.Length}");
            if (whole == ProxyParse.NeedMore && bytes.Length >= ProxyHeader.MaxLength)
                throw new InvalidOperationException("needs more than the most a header may take");
            // Cut anywhere, a prefix never contradicts the whole: it needs more, or gives the same answer.
            int cut = bytes.Length == 0 ? 0 : bytes[0] % (bytes.Length + 1);
            ProxyParse part = ProxyHeader.Parse(bytes.AsSpan(0, cut), out ProxyHeader early, out _);
            if (part == ProxyParse.Done && (whole != ProxyParse.Done || early.Length != header.Length))
                throw new InvalidOperationException($"a prefix of {cut} bytes is done, the whole is {whole}");
            if (part == ProxyParse.Invalid && whole != ProxyParse.Invalid)
                throw new InvalidOperationException($"a prefix of {cut} bytes is invalid, the whole is {whole}");
        });

        await Assert.That(failure).IsNull();
    }
}
