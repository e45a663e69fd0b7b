using System;
using System.Globalization;

namespace MonaAot.Configuration;

/// <summary>How a configuration value is typed for scripts (docs/api.md, "mona.configs"):
/// true/false become booleans, integers Lua integers, other numbers floats, everything else stays a
/// string.</summary>
public readonly struct ConfigValue
{
    public enum Kind { String, Boolean, Integer, Float }

    private ConfigValue(Kind type, string text, bool boolean = false, long integer = 0, double number = 0)
    {
        Type = type;
        Text = text;
        Boolean = boolean;
        Integer = integer;
        Number = number;
    }

    public Kind Type { get; }
    public string Text { get; }
    public bool Boolean { get; }
    public long Integer { get; }
    public double Number { get; }

    public static ConfigValue Parse(string text)
    {
        if (string.Equals(text, "true", StringComparison.OrdinalIgnoreCase))
            return new ConfigValue(Kind.Boolean, text, boolean: true);
        if (string.Equals(text, "false", StringComparison.OrdinalIgnoreCase))
            return new ConfigValue(Kind.Boolean, text, boolean: false);
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long integer))
            return new ConfigValue(Kind.Integer, text, integer: integer);
        // Only plain decimal notation counts as a number: "NaN", "Infinity" or "1,5" stay text.
        if (text.Length > 0 && (char.IsAsciiDigit(text[^1]) || text[^1] == '.')
            && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double number))
            return new ConfigValue(Kind.Float, text, number: number);
        return new ConfigValue(Kind.String, text);
    }
}
