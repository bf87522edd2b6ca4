using EdgeShortcut.Runtime;

namespace EdgeShortcut.Fuzz.Targets;

/// <summary>An ONNX model file opened with <c>EdgeModel.Load</c> on one backend (the managed engine or
/// ONNX Runtime's CPU provider) and, when accepted, run for a prompt and two greedy tokens.</summary>
public sealed class OnnxTarget(BackendKind backend) : FuzzTarget
{
    /// <inheritdoc />
    public override string Name => backend == BackendKind.Managed ? "onnx-managed" : "onnx-ort";
    /// <inheritdoc />
    public override IReadOnlyList<Type> Expected { get; } = [typeof(CheckpointFormatException), typeof(NonFiniteValueException)];
    /// <inheritdoc />
    public override IReadOnlyList<byte[]> Seeds { get; } =
        [.. FuzzSeeds.Configs.SelectMany((c, i) => new[] { FuzzSeeds.Onnx(c, i + 1, int8: true), FuzzSeeds.Onnx(c, i + 1, int8: false) })];

    /// <inheritdoc />
    public override byte[] Mutate(byte[] seed, Random r)
    {
        int kind = r.Next(20);
        if (kind < 9)
        {
            try { return OnnxModelMutations.Mutate(seed, r) ?? ByteMutations.Mutate(seed, r); }
            catch (Exception e) when (e is ArgumentException or OverflowException) { return ByteMutations.Mutate(seed, r); }   // the object model refused the edit
        }
        return kind < 17 ? ProtoMutations.Mutate(seed, r) : ByteMutations.Mutate(seed, r);
    }

    /// <inheritdoc />
    public override void Load(byte[] input, string scratch)
    {
        string path = Path.Combine(scratch, $"{Name}.onnx");
        File.WriteAllBytes(path, input);
        using var model = EdgeModel.Load(path, new EdgeModelOptions { Backend = backend, Threads = 1 });
        using var generator = model.CreateGenerator(GenerationOptions.Greedy with { MaxNewTokens = 2 });
        generator.AppendTokens([0, 1 % model.Config.VocabSize]);
        while (!generator.IsDone) generator.NextToken();
    }
}
