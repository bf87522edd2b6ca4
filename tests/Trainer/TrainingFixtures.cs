using EdgeShortcut.Trainer.Training;

namespace EdgeShortcut.Tests.Trainer;

/// <summary>A temp run directory with a small synthetic corpus, deleted on dispose.</summary>
internal sealed class TempRun : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), $"es-train-{Guid.NewGuid():N}");
    public string DataPath => Path.Combine(Dir, "data.txt");
    public string OutDir => Path.Combine(Dir, "out");

    public TempRun(int bytes = 4000)
    {
        Directory.CreateDirectory(Dir);
        // A learnable but non-trivial text: words from a small vocabulary in a seeded order.
        var rng = new Random(42);
        string[] words = ["the ", "cat ", "sat ", "on ", "a ", "mat. ", "über ", "naïve ", "\n"];
        var sb = new System.Text.StringBuilder();
        while (System.Text.Encoding.UTF8.GetByteCount(sb.ToString()) < bytes) sb.Append(words[rng.Next(words.Length)]);
        File.WriteAllText(DataPath, sb.ToString());
    }

    /// <summary>Tiny options: d 16, 3 layers, ctx 16, dropout on (so the RNG state matters on resume).</summary>
    public TrainingOptions Options(int steps) => new()
    {
        DataPath = DataPath, OutDir = OutDir, Layers = 3, Dim = 16, Heads = 2, Context = 16,
        Steps = steps, Batch = 4, GradAccum = 2, LearningRate = 3e-3, MinLearningRate = 3e-4, Warmup = 2,
        Dropout = 0.1, EvalEvery = 3, EvalBatch = 8, Seed = 7, Threads = 1,
    };

    /// <summary>The options with every training setting that has changed default since the exit recipe
    /// spelled out at its earlier value, so a pinned-number test keeps meaning the same run.</summary>
    public static TrainingOptions PinnedDefaults(TrainingOptions o) => o with { Dropout = 0.1, ScaledFeatureInit = false };

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
