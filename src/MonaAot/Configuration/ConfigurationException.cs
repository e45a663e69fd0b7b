using System;

namespace MonaAot.Configuration;

/// <summary>A bad command line or configuration: one line for the user, exit code 2.</summary>
public sealed class ConfigurationException(string message) : Exception(message);
