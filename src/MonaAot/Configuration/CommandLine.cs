using System;
using System.Globalization;
using MonaAot.Diagnostics;

namespace MonaAot.Configuration;

/// <summary>What the command line asked for: <c>monaaot [options] [WWW_DIR]</c>.</summary>
public sealed record CommandLine(string? ConfigPath, LogLevel? LogLevel, string? WwwDirectory, bool Help, bool Version)
{
    public const string Usage =
        """
        Usage: monaaot [options] [WWW_DIR]

        Runs the Lua server applications of WWW_DIR (default: www/ beside the executable).

        Options:
          --config=FILE   configuration file (default: monaaot.ini beside the executable)
          --log=N         log level: 0 none, 1 fatal, 2 critic, 3 error, 4 warn, 5 note,
                          6 info (default), 7 debug, 8 trace
          --help          show this help and exit
          --version       show the version and exit
        """;

    /// <summary>Parses the arguments; a bad one throws <see cref="ConfigurationException"/>.</summary>
    public static CommandLine Parse(string[] args)
    {
        string? config = null;
        string? www = null;
        LogLevel? level = null;
        bool help = false, version = false, optionsEnded = false;
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (optionsEnded || !arg.StartsWith('-') || arg == "-")
            {
                if (www is not null)
                    throw new ConfigurationException($"unexpected argument '{arg}': only one www folder can be given");
                www = arg;
                continue;
            }
            int equals = arg.IndexOf('=');
            string name = equals < 0 ? arg : arg[..equals];
            string? inlineValue = equals < 0 ? null : arg[(equals + 1)..];
            switch (name)
            {
                case "--":
                    optionsEnded = true;
                    break;
                case "--help" or "-h":
                    help = true;
                    break;
                case "--version":
                    version = true;
                    break;
                case "--config":
                    config = ValueOf(name, inlineValue, args, ref i);
                    if (config.Length == 0)
                        throw new ConfigurationException("--config needs a file name");
                    break;
                case "--log":
                    level = ParseLevel(ValueOf(name, inlineValue, args, ref i));
                    break;
                default:
                    throw new ConfigurationException($"unknown option '{arg}'");
            }
        }
        return new CommandLine(config, level, www, help, version);
    }

    private static string ValueOf(string name, string? inlineValue, string[] args, ref int i)
    {
        if (inlineValue is not null)
            return inlineValue;
        if (i + 1 >= args.Length)
            throw new ConfigurationException($"{name} needs a value");
        return args[++i];
    }

    private static LogLevel ParseLevel(string text)
    {
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value is >= 0 and <= 8)
            return (LogLevel)value;
        throw new ConfigurationException($"--log takes a level from 0 to 8, got '{text}'");
    }
}
