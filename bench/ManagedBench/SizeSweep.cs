using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Quantize;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// The size sweep (issue 13): random-weight int8 files written by our own exporter
/// (<see cref="OnnxExporter"/>, the real graph) at several widths and depths, plain and shortcut; on
/// each, every backend (managed, ONNX Runtime CPU at equal threads) in every activation mode (float32,
/// int8; the managed engine also with bfloat16 caches) takes turns run by run in one process, so a noisy machine slows all of them alike. Measures
/// decode tokens/s (tokens 1-32 and 224-255 of a 256-token greedy run from a 1-token prompt), a
/// 256-token prefill, load time and resident memory (each in a fresh child process,
/// <see cref="LoadProbe"/>), and decode's achieved bytes/s against the read bandwidth measured in the
/// same run (<see cref="ReadBandwidth"/>). Prints the markdown table of docs/BENCHMARKS.md and one JSON line.
/// </summary>
internal static class SizeSweep
{
    /// <summary>The issue's sizes: the default shape (d128/L6), then ~5M, ~26M and ~85M parameters.</summary>
    public const string DefaultSizes = "128x6,256x6,512x8,768x12";

    /// <summary>Runs the sweep over <paramref name="sizes"/> (<c>DxL</c>, comma-separated) with <paramref name="runs"/>
    /// measured runs per contender after one warm-up, at <paramref name="threads"/> threads (0 = the runtime's default).
    /// With <paramref name="alsoOneThread"/>, every contender also runs at one thread, interleaved with the others
    /// (what to compare when the machine is busy: the two-thread split must not be slower than one thread). With
    /// <paramref name="bf16Cache"/>, the managed engine runs each activation mode with bfloat16 caches too.</summary>
    public static void Run(string sizes, int runs, int threads, bool loadProbes, bool alsoOneThread = false, bool bf16Cache = true, bool int8Cache = true)
    {
        threads = threads > 0 ? threads : ThreadBudget.ForManaged(0);
        string startLoad = LoadAverage.Read();
        Console.WriteLine($"size sweep: sizes {sizes}, {runs} measured runs per contender after a warm-up, {threads} threads for every contender, " +
            $"load average {startLoad}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {CpuFeatures.Current}");
        var report = new SweepReport(threads);
        string dir = Directory.CreateTempSubdirectory("edgeshortcut-sweep-").FullName;
        try
        {
            foreach (var (dim, layers) in sizes.Split(',').Select(ParseSize))
                foreach (bool shortcut in new[] { false, true })
                {
                    var config = Config(dim, layers, shortcut);
                    string path = Path.Combine(dir, $"d{dim}-L{layers}-{(shortcut ? "shortcut" : "plain")}.onnx");
                    Write(config, path);
                    MeasureModel(config, path, runs, threads, loadProbes, alsoOneThread, bf16Cache, int8Cache, report);
                    File.Delete(path);
                }
        }
        finally { Directory.Delete(dir, recursive: true); }
        report.Print(startLoad, LoadAverage.Read());
    }

    /// <summary>Heads of width 64 (at least 4, the default model's); shortcut taps at a third and two thirds of the
    /// depth with m = d (the default model's recipe: taps {2, 4}, m = d at L = 6).</summary>
    public static ModelConfig Config(int dim, int layers, bool shortcut)
    {
        var c = ModelConfig.Create(layers, dim, Math.Max(4, dim / 64), contextLength: 256, shortcut: shortcut);
        return (shortcut ? c with { Taps = [layers / 3, 2 * layers / 3], FeatureDim = dim } : c).Validate();
    }

    private static (int Dim, int Layers) ParseSize(string s)
    {
        var parts = s.Trim().Split('x');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int d) || !int.TryParse(parts[1], out int l))
            throw new ArgumentException($"A size is DIMxLAYERS (e.g. 512x8), not '{s}'.");
        return (d, l);
    }

    /// <summary>Exports random weights to an int8 file through the real exporter, then lets the in-memory copies go.</summary>
    public static void Write(ModelConfig c, string path, bool bytes = false)
    {
        var tokenizer = bytes ? TokenizerSpec.Bytes : new TokenizerSpec(TokenizerSpec.TokenFileKind, c.VocabSize);
        var (model, _) = OnnxExporter.BuildModel(new CheckpointConfig { Model = c, Tokenizer = tokenizer },
            RandomModel.Weights(c), ExportPrecision.Int8, new string('0', 64));
        OnnxWriter.WriteFile(path, model);
    }

    private static void MeasureModel(ModelConfig c, string path, int runs, int threads, bool loadProbes, bool alsoOneThread, bool bf16Cache, bool int8Cache, SweepReport report)
    {
        var file = ModelFile.Read(path);
        var modes = new[] { ActivationPrecision.Float32, ActivationPrecision.Int8 };
        var extraCaches = new List<KeyValueCachePrecision>();   // the managed engine's further contenders
        if (bf16Cache) extraCaches.Add(KeyValueCachePrecision.BFloat16);
        if (int8Cache) extraCaches.Add(KeyValueCachePrecision.Int8);
        var loads = new Dictionary<string, LoadProbe.Result>();
        if (loadProbes)
            foreach (bool managed in new[] { true, false })
                foreach (var a in modes)
                    loads[Key(managed, a)] = LoadProbe.Measure(path, managed, a, threads);
        var contenders = new List<SweepContender>();
        try
        {
            foreach (int n in alsoOneThread && threads > 1 ? new[] { threads, 1 } : [threads])
            {
                foreach (bool managed in new[] { true, false })
                    foreach (var a in modes) contenders.Add(SweepContender.Open(file, managed, a, n));
                foreach (var cache in extraCaches)
                    foreach (var a in modes) contenders.Add(SweepContender.Open(file, managed: true, a, n, cache));
            }
            long weightBytes = ((ManagedBackend)contenders[0].Engine).WeightBytesPerToken;
            double bandwidth = ReadBandwidth.Measure(threads);
            int[] prompt = [.. Enumerable.Range(0, c.ContextLength).Select(i => 32 + i % 95)];
            for (int run = 0; run <= runs; run++)
            {
                foreach (int i in RoundOrder.Of(contenders.Count, run)) { Settle(); contenders[i].Decode(record: run > 0); }
                foreach (int i in RoundOrder.Of(contenders.Count, run)) { Settle(); contenders[i].Prefill(prompt, record: run > 0); }
            }
            bandwidth = Math.Max(bandwidth, ReadBandwidth.Measure(threads));   // before and after: the better of the two
            report.Add(c, new FileInfo(path).Length, weightBytes, bandwidth, LoadAverage.Read(), contenders,
                contenders.Select(k => k.Engine.Threads == threads && k.Backend is "managed" or "ort-cpu"   // load probes open float32 caches only
                    ? loads.GetValueOrDefault(Key(k.Backend == "managed", k.Activations)) : null).ToList());
        }
        finally { foreach (var k in contenders) k.Dispose(); }
    }

    /// <summary>A pause between contenders until the previous one's worker threads are quiet (ONNX Runtime's pool spins
    /// after a run; <see cref="OtherThreadsQuiet"/>), so they do not slow the next one.</summary>
    private static void Settle() => OtherThreadsQuiet.Wait();

    private static string Key(bool managed, ActivationPrecision a) => $"{managed}/{a}";

    /// <summary>Bytes a decode step at position <paramref name="p"/> reads: the weights once, plus the keys and values
    /// (<paramref name="cacheValueBytes"/> each: 4 for float32, 2 for bfloat16) of positions 0..p of every ordinary block
    /// and, for the shortcut model, of every tap's memory entries.</summary>
    public static double BytesPerToken(ModelConfig c, long weightBytes, int p, double cacheValueBytes = 4) =>
        weightBytes + 2.0 * cacheValueBytes * c.Dim * (p + 1) * (c.SelfAttentionBlocks + c.TapCount);
}
