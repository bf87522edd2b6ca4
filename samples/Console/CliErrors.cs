using EdgeShortcut.Runtime;

namespace EdgeShortcut.ConsoleSample;

/// <summary>A user error of the command line (message only, no stack trace).</summary>
internal sealed class CliException(string message) : Exception(message);

/// <summary>The one place that turns expected failures into a message and exit code 1; anything
/// else is a bug and keeps its stack trace.</summary>
internal static class CliErrors
{
    private static readonly Dictionary<string, string> Flags = new()
    {
        ["Temperature"] = "--temperature", ["TopK"] = "--top-k", ["TopP"] = "--top-p",
        ["RepetitionPenalty"] = "--repetition-penalty", ["MaxNewTokens"] = "--max-new-tokens",
    };

    public static async Task<int> Run(Func<Task<int>> action)
    {
        try { return await action(); }
        catch (OperationCanceledException) { Console.Error.WriteLine("\n(cancelled)"); return 130; }
        catch (Exception e) when (e is CliException or CheckpointFormatException or NotSupportedException or ContextOverflowException or ArgumentException)
        {
            string message = e is ArgumentException { ParamName: { } p } && Flags.TryGetValue(p, out var flag)
                ? $"{flag}: {e.Message.Split(" (Parameter")[0]}" : e.Message.Split(" (Parameter")[0];
            Console.Error.WriteLine($"error: {message}");
            return 1;
        }
    }
}
