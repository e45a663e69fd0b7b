using System;

namespace MonaAot.Configuration;

/// <summary>A bad command line or configuration: one line for the user, exit code 2.</summary>
public sealed class ConfigurationException(string message) : Exception(message)
{
    /// <summary>The exit code of a bad command line or configuration.</summary>
    public const int ExitCode = 2;
}
