namespace EdgeShortcut.Core;

/// <summary>The exit codes of every command-line tool in the repository (trainer, quantizer, console
/// sample, bench tools, fuzzer): the same kind of failure gives the same code everywhere.</summary>
internal static class CliExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;
    /// <summary>A runtime error: a missing or bad file, an unavailable backend, a diverged run.</summary>
    public const int Runtime = 1;
    /// <summary>A usage error: a command line that does not parse, or a flag value that is out of range.</summary>
    public const int Usage = 2;
    /// <summary>Stopped by Ctrl+C (128 + SIGINT).</summary>
    public const int Cancelled = 130;

    /// <summary>An <see cref="ArgumentException"/> message without the " (Parameter 'x')" suffix .NET
    /// appends: the messages already name the flag or field.</summary>
    public static string WithoutParameterSuffix(string message) =>
        System.Text.RegularExpressions.Regex.Replace(message, @" \(Parameter '[^']*'\)", "");
}
