using System;

namespace MonaAot.Lua;

/// <summary>Where a Lua error message says it happened: "chunk:line: message".</summary>
public readonly record struct ScriptError(string File, int Line, string Message)
{
    /// <summary>Splits "file:line: rest" as Lua formats runtime and syntax errors; other messages
    /// get <paramref name="fallbackFile"/> and line 0.</summary>
    public static ScriptError Parse(string message, string fallbackFile)
    {
        int firstColon = message.IndexOf(':');
        while (firstColon > 0)
        {
            int secondColon = message.IndexOf(':', firstColon + 1);
            if (secondColon < 0)
                break;
            if (int.TryParse(message.AsSpan(firstColon + 1, secondColon - firstColon - 1), out int line) && line >= 0
                && message.IndexOf('\n', 0, firstColon) < 0)
                return new ScriptError(message[..firstColon], line, message[(secondColon + 1)..].TrimStart());
            firstColon = secondColon;
        }
        return new ScriptError(fallbackFile, 0, message);
    }
}
