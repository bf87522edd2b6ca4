using System.CommandLine;

namespace EdgeShortcut.Trainer.Cli;

/// <summary><c>train-bench</c>: placeholder replaced below.</summary>
internal static class BenchCommand
{
    public static Command Create() => new("train-bench", "Training throughput benchmark.");
}
