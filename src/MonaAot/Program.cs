using System;
using System.Reflection;
using MonaAot.Configuration;

namespace MonaAot;

public static class Program
{
    public const int ExitUsage = 2;

    public static int Main(string[] args)
    {
        CommandLine commandLine;
        ServerSettings settings;
        try
        {
            commandLine = CommandLine.Parse(args);
            if (commandLine.Help)
            {
                Console.Out.WriteLine(CommandLine.Usage);
                return 0;
            }
            if (commandLine.Version)
            {
                Console.Out.WriteLine($"monaaot {Version}");
                return 0;
            }
            settings = ServerSettings.Resolve(commandLine, Environment.ProcessPath ?? AppContext.BaseDirectory + "monaaot");
        }
        catch (ConfigurationException e)
        {
            Console.Error.WriteLine($"monaaot: {e.Message}");
            return ExitUsage;
        }
        return Server.Run(settings);
    }

    public static string Version =>
        typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
}
