using System;
using MonaAot.Configuration;
using MonaAot.Workers;

namespace MonaAot;

public static class Program
{
    public const int ExitUsage = ConfigurationException.ExitCode;

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
                Console.Out.WriteLine(BuildInfo.VersionLine);
                return 0;
            }
            settings = ServerSettings.Resolve(commandLine, Environment.ProcessPath ?? AppContext.BaseDirectory + "monaaot");
            if (Environment.GetEnvironmentVariable(WorkerIdentity.Variable) is { } worker && WorkerIdentity.Parse(worker) is null)
                throw new ConfigurationException($"{WorkerIdentity.Variable}='{worker}' is malformed (the supervisor of [server] workers sets it to i/N; unset it)");
        }
        catch (ConfigurationException e)
        {
            Console.Error.WriteLine($"monaaot: {e.Message}");
            return ExitUsage;
        }
        if (WorkerIdentity.Current.IsWorker)
        {
            if (!WorkerProcess.Attach(out string? error))
            {
                Console.Error.WriteLine($"monaaot: worker {WorkerIdentity.Current.Text}: {error}");
                return 1;
            }
            return Server.Run(settings);
        }
        return settings.Workers > 1 ? Supervisor.Run(settings, args, Version, Server.LayoutsAgree) : Server.Run(settings);
    }

    public static string Version => BuildInfo.Version;
}
