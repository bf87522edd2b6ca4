using EdgeShortcut.Runtime;

namespace EdgeShortcut.ConsoleSample;

/// <summary>A failure of the command (message only, no stack trace): exit code 1.</summary>
internal class CliException(string message) : Exception(message);

/// <summary>A command line that asks for something impossible (a bad flag value, a policy the model
/// cannot run): exit code 2, like a parse error.</summary>
internal sealed class CliUsageException(string message) : CliException(message);

/// <summary>The one place that turns expected failures into a message and an exit code: 2 for usage
/// errors (a bad flag value, including an option the library rejects, named by its flag), 1 for
/// everything else that is expected (missing file, unavailable backend); anything else is a bug and
/// keeps its stack trace.</summary>
internal static class CliErrors
{
    public const int Runtime = 1, Usage = 2, Cancelled = 130;   // the codes of every tool in the repository (src/Core/CliExitCodes.cs)

    /// <summary>The console flag of each option property the library names in ArgumentException.ParamName.</summary>
    private static readonly Dictionary<string, string> Flags = new()
    {
        ["Temperature"] = "--temperature", ["TopK"] = "--top-k", ["TopP"] = "--top-p",
        ["RepetitionPenalty"] = "--repetition-penalty", ["MaxNewTokens"] = "--max-new-tokens",
        ["Depth"] = "--depth", ["Threads"] = "--threads",
    };

    public static async Task<int> Run(Func<Task<int>> action)
    {
        try { return await action(); }
        catch (OperationCanceledException) { Console.Error.WriteLine("\n(cancelled)"); return Cancelled; }
        catch (Exception e) when (e is CliException or CheckpointFormatException or NotSupportedException or ContextOverflowException or ArgumentException or NonFiniteValueException)
        {
            string message = e.Message.Split(" (Parameter")[0];
            bool usage = e is CliUsageException;
            if (e is ArgumentException { ParamName: { } p } && Flags.TryGetValue(p, out var flag))
            {
                message = $"{flag}: {message}";
                usage = true;
            }
            Console.Error.WriteLine($"error: {message}");
            return usage ? Usage : Runtime;
        }
    }
}
