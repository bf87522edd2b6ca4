using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeShortcut.Trainer.Training;

namespace EdgeShortcut.Fuzz.Targets;

/// <summary>training_state.json read by <c>TrainingCheckpoint.ReadState</c> (resume and eval) and, when
/// accepted, its RNG state handed to libtorch as a resume does (a state libtorch rejects aborts the
/// process, so an accepted bad state is a crash the fuzzer sees).</summary>
public sealed class TrainingStateTarget : FuzzTarget
{
    /// <inheritdoc />
    public override string Name => "training-state";
    /// <inheritdoc />
    public override IReadOnlyList<Type> Expected { get; } = [typeof(CheckpointFormatException)];
    /// <inheritdoc />
    public override IReadOnlyList<byte[]> Seeds { get; } = MakeSeeds();

    private static byte[][] MakeSeeds()
    {
        TorchSharp.torch.manual_seed(1);
        var state = new TrainingState
        {
            Step = 40, TokensSeen = 40 * 16 * 256, BestValNll = 1.5, ValNll = 1.6, ElapsedSeconds = 12.5,
            TorchRngState = TrainingCheckpoint.SaveRng(), Data = new DataPosition { NextStep = 40, Seed = 1337 },
            Options = new TrainingOptions { DataPath = "data.txt", OutDir = "runs/x", Steps = 40, Layers = 3, Dim = 16, Heads = 2, Context = 16, EvalEvery = 20 },
        };
        return [Encoding.UTF8.GetBytes(JsonSerializer.Serialize(state, new JsonSerializerOptions { WriteIndented = true }))];
    }

    /// <inheritdoc />
    public override byte[] Mutate(byte[] seed, Random r)
    {
        if (r.Next(10) < 4)
        {
            // The RNG state: valid base64 of a mutated torch state (its length, or its mt19937 fields).
            var json = JsonNode.Parse(seed)!;
            byte[] rng = Convert.FromBase64String(json["torch_rng_state"]!.GetValue<string>());
            if (r.Next(2) == 0) rng = ByteMutations.Mutate(rng, r);
            else BitConverter.GetBytes((int)ByteMutations.InterestingIntegers[r.Next(ByteMutations.InterestingIntegers.Length)]).CopyTo(rng, new[] { 8, 12, 16, 20 }[r.Next(4)]);
            json["torch_rng_state"] = Convert.ToBase64String(rng);
            return Encoding.UTF8.GetBytes(json.ToJsonString());
        }
        return r.Next(10) < 9 ? JsonMutations.Mutate(seed, r) : ByteMutations.Mutate(seed, r);
    }

    /// <inheritdoc />
    public override void Load(byte[] input, string scratch)
    {
        string dir = Path.Combine(scratch, "state");
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, TrainingCheckpoint.StateFile), input);
        var state = TrainingCheckpoint.ReadState(dir);
        TrainingCheckpoint.RestoreRng(state.TorchRngState);
    }
}
