using System.CommandLine;

namespace EdgeShortcut.Trainer.Cli;

/// <summary>Small helpers for declaring options with their defaults shown in --help.</summary>
internal static class CliOptions
{
    /// <summary>An option with a default value (System.CommandLine prints it in --help).</summary>
    public static Option<T> With<T>(string name, T defaultValue, string description, params string[] aliases) =>
        new(name, aliases) { Description = description, DefaultValueFactory = _ => defaultValue };

    /// <summary>An option without a default.</summary>
    public static Option<T> Plain<T>(string name, string description, bool required = false) =>
        new(name) { Description = description, Required = required };

    /// <summary>True when the user wrote the option on the command line (not its default).</summary>
    public static bool Given(ParseResult result, Option option) => result.GetResult(option) is { Implicit: false };
}
