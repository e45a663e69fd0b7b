using System;
using System.Collections.Generic;
using System.Text;

namespace MonaAot.Tests.Fuzz;

/// <summary>
/// Mutation fuzzing without coverage feedback: each input is a corpus entry changed by a few
/// random edits (byte flips, inserts and deletes, repeated runs, splices with another entry,
/// and tokens that parsers treat specially). Seeded, so a failure names the seed and the input
/// and can be replayed.
/// </summary>
public sealed class Mutator(IReadOnlyList<byte[]> corpus, int seed)
{
    private static readonly byte[][] Tokens = Array.ConvertAll(
        new[] { "[", "]", "=", ":", "::", ";", "#", "\n", "\r\n", "\r", "\0", " ", "\t", "%", ".", "-",
                "[::1]", "0", "65535", "65536", "-1", "99999999999999999999", "0x10", "1e9", "\u00e9", "\uFFFD",
                "--config", "--log=", "true", "localhost", "127.0.0.1" },
        token => Encoding.UTF8.GetBytes(token));

    private readonly Random _random = new(seed);

    public byte[] Next()
    {
        var data = new List<byte>(corpus[_random.Next(corpus.Count)]);
        int edits = 1 + _random.Next(6);
        for (int i = 0; i < edits; i++)
            Edit(data);
        return data.ToArray();
    }

    private void Edit(List<byte> data)
    {
        int at = data.Count == 0 ? 0 : _random.Next(data.Count + 1);
        switch (_random.Next(7))
        {
            case 0 when data.Count > 0: // flip a bit
                int index = Math.Min(at, data.Count - 1);
                data[index] ^= (byte)(1 << _random.Next(8));
                break;
            case 1: // a random byte
                data.Insert(at, (byte)_random.Next(256));
                break;
            case 2 when data.Count > 0: // delete a run
                int count = Math.Min(1 + _random.Next(8), data.Count - Math.Min(at, data.Count - 1));
                data.RemoveRange(Math.Min(at, data.Count - 1), count);
                break;
            case 3: // a token
                data.InsertRange(at, Tokens[_random.Next(Tokens.Length)]);
                break;
            case 4 when data.Count > 0: // repeat a run, sometimes many times
                int start = _random.Next(data.Count);
                int length = Math.Min(1 + _random.Next(16), data.Count - start);
                byte[] run = data.GetRange(start, length).ToArray();
                int times = _random.Next(4) == 0 ? 1000 : 1 + _random.Next(4);
                for (int t = 0; t < times; t++)
                    data.InsertRange(at, run);
                break;
            case 5: // splice with another entry
                byte[] other = corpus[_random.Next(corpus.Count)];
                int from = other.Length == 0 ? 0 : _random.Next(other.Length);
                data.InsertRange(at, other[from..]);
                break;
            default: // truncate
                if (at < data.Count)
                    data.RemoveRange(at, data.Count - at);
                break;
        }
    }
}
