using EdgeShortcut.Trainer.Model;
using EdgeShortcut.Trainer.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EdgeShortcut.Fuzz.Targets;

/// <summary>optimizer.bin loaded into the AdamW optimizer of a tiny model, as a resume does
/// (<c>OptimizerStateFile.LoadInto</c>). The seed is the state after one real training step.</summary>
public sealed class OptimizerTarget : FuzzTarget
{
    private readonly ShortcutGpt _model;
    private readonly AdamW _optimizer;

    /// <summary>Builds the model and optimizer every case loads into, and the seed file.</summary>
    public OptimizerTarget()
    {
        manual_seed(1);
        var options = new TrainingOptions { DataPath = "x", Layers = 3, Dim = 8, Heads = 2, Context = 8 };
        _model = new ShortcutGpt(options.ModelConfig());
        _optimizer = Trainer.Training.Trainer.CreateOptimizer(_model, options);
        using (var scope = NewDisposeScope())
        {
            var ids = randint(0, 256, [2, 8], dtype: ScalarType.Int64);
            nn.functional.cross_entropy(_model.forward(ids).view(-1, 256), ids.view(-1)).backward();
            _optimizer.step();
        }
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) _optimizer.save_state_dict(writer);
        Seeds = [buffer.ToArray()];
    }

    /// <inheritdoc />
    public override string Name => "optimizer";
    /// <inheritdoc />
    public override IReadOnlyList<Type> Expected { get; } = [typeof(CheckpointFormatException)];
    /// <inheritdoc />
    public override IReadOnlyList<byte[]> Seeds { get; }

    /// <inheritdoc />
    public override byte[] Mutate(byte[] seed, Random r)
    {
        // Mostly length-preserving damage (the length check alone refuses the rest): counts, shapes, values.
        if (r.Next(10) < 8)
        {
            var m = (byte[])seed.Clone();
            int rounds = 1 + r.Next(3);
            for (int i = 0; i < rounds; i++)
            {
                var mutated = ByteMutations.Mutate(m, r);
                if (mutated.Length == m.Length) m = mutated;
                else m[r.Next(m.Length)] ^= (byte)(1 << r.Next(8));
            }
            return m;
        }
        return ByteMutations.Mutate(seed, r);
    }

    /// <inheritdoc />
    public override void Load(byte[] input, string scratch)
    {
        string path = Path.Combine(scratch, TrainingCheckpoint.OptimizerFile);
        File.WriteAllBytes(path, input);
        OptimizerStateFile.LoadInto(path, _optimizer);
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        _optimizer.Dispose();
        _model.Dispose();
        base.Dispose();
    }
}
