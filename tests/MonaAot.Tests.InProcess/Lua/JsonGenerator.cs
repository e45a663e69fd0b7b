using System;
using System.Text;

namespace MonaAot.Tests.Lua;

/// <summary>
/// Random valid JSON texts (RFC 8259): every number form (signs, fractions, exponents, integers
/// near and beyond 64 bits), strings with every escape (surrogate pairs in both cases of hex)
/// and raw UTF-8, JSON's four whitespace bytes anywhere they may go, nesting up to a few levels.
/// For the round-trip tests and as seeds of the fuzzer (JsonFuzzTests).
/// </summary>
internal static class JsonGenerator
{
    public static string Text(Random random)
    {
        var builder = new StringBuilder();
        Space(random, builder);
        Value(random, builder, 0);
        Space(random, builder);
        return builder.ToString();
    }

    private static void Space(Random random, StringBuilder builder)
    {
        if (random.Next(4) != 0)
            return;
        for (int i = random.Next(1, 4); i > 0; i--)
            builder.Append(" \t\r\n"[random.Next(4)]);
    }

    private static void Value(Random random, StringBuilder builder, int depth)
    {
        switch (random.Next(depth > 4 ? 6 : 8))
        {
            case 0: builder.Append("null"); break;
            case 1: builder.Append(random.Next(2) == 0 ? "true" : "false"); break;
            case 2: case 3: Number(random, builder); break;
            case 4: case 5: String(random, builder); break;
            case 6:
                builder.Append('[');
                Space(random, builder);
                for (int i = random.Next(5), first = 1; i > 0; i--, first = 0)
                {
                    if (first == 0)
                        builder.Append(',');
                    Space(random, builder);
                    Value(random, builder, depth + 1);
                    Space(random, builder);
                }
                builder.Append(']');
                break;
            default:
                builder.Append('{');
                Space(random, builder);
                for (int i = random.Next(5), first = 1; i > 0; i--, first = 0)
                {
                    if (first == 0)
                        builder.Append(',');
                    Space(random, builder);
                    String(random, builder);
                    Space(random, builder);
                    builder.Append(':');
                    Space(random, builder);
                    Value(random, builder, depth + 1);
                    Space(random, builder);
                }
                builder.Append('}');
                break;
        }
    }

    private static void Number(Random random, StringBuilder builder)
    {
        if (random.Next(2) == 0)
            builder.Append('-');
        int digits = random.Next(8) switch { 0 => 19, 1 => 20 + random.Next(30), _ => 1 + random.Next(18) };
        builder.Append(digits == 1 ? (char)('0' + random.Next(10)) : (char)('1' + random.Next(9)));
        for (int i = 1; i < digits; i++)
            builder.Append((char)('0' + random.Next(10)));
        if (random.Next(3) == 0)
        {
            builder.Append('.');
            for (int i = random.Next(1, 20); i > 0; i--)
                builder.Append((char)('0' + random.Next(10)));
        }
        if (random.Next(4) == 0)
        {
            builder.Append(random.Next(2) == 0 ? 'e' : 'E');
            if (random.Next(2) == 0)
                builder.Append(random.Next(2) == 0 ? '+' : '-');
            builder.Append(random.Next(0, 250)); // digits and exponent keep it below 1e308
        }
    }

    private static void String(Random random, StringBuilder builder)
    {
        builder.Append('"');
        for (int i = random.Next(10); i > 0; i--)
        {
            switch (random.Next(10))
            {
                case 0: builder.Append('\\').Append("\"\\/bfnrt"[random.Next(8)]); break;
                case 1: builder.Append("\\u").Append(random.Next(0x10000).ToString(random.Next(2) == 0 ? "x4" : "X4") is var hex && IsSurrogate(hex) ? "0041" : hex); break;
                case 2:
                    int pair = random.Next(0x10000, 0x110000) - 0x10000;
                    builder.Append($"\\u{0xD800 + (pair >> 10):x4}\\u{0xDC00 + (pair & 0x3FF):X4}");
                    break;
                case 3: builder.Append(char.ConvertFromUtf32(random.Next(0x80, 0xD800))); break;
                case 4: builder.Append(char.ConvertFromUtf32(random.Next(0x10000, 0x110000))); break;
                default:
                    char c = (char)random.Next(0x20, 0x7F);
                    builder.Append(c is '"' or '\\' ? 'x' : c);
                    break;
            }
        }
        builder.Append('"');
    }

    private static bool IsSurrogate(string hex)
    {
        int value = Convert.ToInt32(hex, 16);
        return value is >= 0xD800 and <= 0xDFFF;
    }
}
