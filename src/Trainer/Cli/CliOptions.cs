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

    /// <summary>Throws an <see cref="ArgumentException"/> (a usage error, exit 2) naming <paramref name="flag"/> unless <paramref name="ok"/>.</summary>
    public static void Require(bool ok, string flag, string rule)
    {
        if (!ok) throw new ArgumentException($"{flag} {rule}.", flag);
    }

    /// <summary>True when the user wrote the option on the command line (not its default).</summary>
    public static bool Given(ParseResult result, Option option) => result.GetResult(option) is { Implicit: false };
}
