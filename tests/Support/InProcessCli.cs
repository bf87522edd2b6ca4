using System.Reflection;

namespace EdgeShortcut.Tests.Support;

/// <summary>Runs a tool's entry point in process with stdout and stderr captured (callers sit in a
/// non-parallel collection, since the console is process-wide).</summary>
internal static class InProcessCli
{
    /// <summary>Invokes <paramref name="tool"/>'s entry point with <paramref name="args"/>; returns its exit code and output.</summary>
    public static (int Code, string Out, string Err) Run(Assembly tool, params string[] args)
    {
        var main = tool.EntryPoint ?? throw new ArgumentException($"{tool.GetName().Name} has no entry point.", nameof(tool));
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try { return ((int)main.Invoke(null, [args])!, stdout.ToString(), stderr.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }
}
