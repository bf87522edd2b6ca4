using EdgeShortcut.Fuzz.Targets;
using EdgeShortcut.Runtime;

namespace EdgeShortcut.Fuzz;

/// <summary>Every fuzz target by name (the order of the report).</summary>
public static class FuzzTargets
{
    /// <summary>The names accepted by <c>--target</c>.</summary>
    public static readonly string[] Names = ["checkpoint", "onnx-managed", "onnx-ort", "tokens", "training-state", "optimizer"];

    /// <summary>Creates the target called <paramref name="name"/> (one of <see cref="Names"/>).</summary>
    public static FuzzTarget Create(string name) => name switch
    {
        "checkpoint" => new CheckpointTarget(),
        "onnx-managed" => new OnnxTarget(BackendKind.Managed),
        "onnx-ort" => new OnnxTarget(BackendKind.Cpu),
        "tokens" => new TokenFileTarget(),
        "training-state" => new TrainingStateTarget(),
        "optimizer" => new OptimizerTarget(),
        _ => throw new ArgumentException($"--target: unknown target '{name}' (use all or one of {string.Join(", ", Names)}).", "--target"),
    };
}
