using System.Diagnostics;
using EdgeShortcut;
using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.ManagedBench;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;

// Usage: ManagedBench [all|decode|compare|ort|matvec|kernels|gemm|prefill|profile|ports|handoff|bandwidth|depth-reports|sweep|write|load] [--model PATH] [--layers 6] [--dim 128] [--heads 4] [--ctx 256] [--runs 7]
//        compare: [--taps 2,4] [--feature-dim 128] (an extra shortcut row) [--activations float32|int8] (default: both)
//        prefill: [--dim 768] [--layers 12] [--rounds 5] [--activations int8] [--per-round] [--tiles AvxVnni,AvxVnni512] [--pause-ms 30]   (1 vs 2 threads, interleaved; --tiles: GEMM tiles side by side; --pause-ms: an idle pause before each prefill, as a user's first prompt after idling)
//        profile: [--prefill] [--wall] [--from P] [--until P] [--cache bfloat16|int8] (prefill: one call, one thread; wall: default threads, wall clock per phase; from/until: decode positions counted)
//        busy-decode: [--dim 768] [--layers 12] [--runs 4] [--activations int8]   (1 vs 2 threads with the helper's counters)
//        split-gemm: [--shapes 2304x768] [--tokens 128] [--rounds 9]   (one product, 1 thread vs shared with the helper)
//        attention: [--dim 768] [--heads 12] [--layers 12] [--ctx 256] [--cache bfloat16|int8] [--threads 2]   (a decode step's attention over a cold cache)
//        generation: --model PATH [--tokens 2000] [--rounds 3]   (a generated token's cost beyond the forward pass: step API greedy/sampled, streaming API, sampler)
//        stream: [--dim 768] [--layers 12] [--rounds 5] [--paired]   (a model's decode products alone vs a plain read of the same bytes, and one with the matvecs' prefetchnta)
//        bandwidth: [--rounds 10]   (two-thread read bandwidth by prefetch hint, streams a thread and piece size between barriers, interleaved pass by pass: min / median / max)
//        ports: [--rounds 3]   (AVX2 multiply-add issue rates per cycle: the bound on a prefill GEMM)
//        handoff: [--rounds 5]   (how long a cache line takes from one thread to the other; are the two vCPUs two cores; what a shared job costs beyond its work)
//        gemm: [--shapes 768x256,256x1024] (rows x cols) [--tokens 32] [--rounds 15]
//        sweep: [--sizes 128x6,256x6,512x8,768x12] [--runs 5] [--threads 0] [--quick] [--no-load-probes] [--also-one-thread] [--no-bf16-cache] [--no-int8-cache]  (issue 13's size sweep)
//        write [--dim 768] [--layers 12] [--plain] [--exits 2,4] [--bytes] [--out PATH]   (one of the sweep's int8 files; with exit heads; a byte tokenizer for the console)
//        load --model PATH --backend managed|cpu --activations M --threads N   (the sweep's child process: load time and RSS)
// Prints markdown tables (the source of docs/BENCHMARKS.md, section "Managed engine").
// Exit codes of every tool (CliExitCodes): a bad flag value is a usage error (2), a bad model file a
// runtime error (1); both print one line instead of a stack trace.
AppDomain.CurrentDomain.UnhandledException += (_, e) =>
{
    int? code = e.ExceptionObject switch
    {
        ArgumentException or FormatException or OverflowException => CliExitCodes.Usage,
        IOException or UnauthorizedAccessException or NotSupportedException => CliExitCodes.Runtime,   // CheckpointFormatException is an IOException
        _ => null,
    };
    if (code is not int exit) return;   // a bug: keep the stack trace
    Console.Error.WriteLine($"error: {CliExitCodes.WithoutParameterSuffix(((Exception)e.ExceptionObject).Message)}");
    Environment.Exit(exit);
};
string mode = args.Length > 0 && !args[0].StartsWith("--") ? args[0] : "all";
string? Opt(string name) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
KeyValueCachePrecision ParseCache(string name) => name.ToLowerInvariant() switch
{
    "float32" => KeyValueCachePrecision.Float32,
    "bfloat16" => KeyValueCachePrecision.BFloat16,
    "int8" => KeyValueCachePrecision.Int8,
    _ => throw new ArgumentException($"cache '{name}': float32, bfloat16 or int8."),
};
KeyValueCachePrecision CacheOpt() => Opt("--cache") is { } name ? ParseCache(name) : KeyValueCachePrecision.Float32;
int IntOpt(string name, int fallback) => Opt(name) is not { } v ? fallback
    : int.TryParse(v, out int n) && n > 0 ? n : throw new ArgumentException($"{name}: '{v}' is not a positive integer.");
// --shapes 768x256,256x1024: matrices as rows x cols (gemm, split-gemm).
(int Rows, int Cols)[] Shapes((int Rows, int Cols)[] fallback) => Opt("--shapes") is not { } list ? fallback
    : [.. list.Split(',').Select(r => r.Split('x')).Select(p => (int.Parse(p[0]), int.Parse(p[1])))];
int runs = IntOpt("--runs", 7);
if (mode == "load")
{
    LoadProbe.RunChild(Opt("--model")!, Opt("--backend") == "managed", Enum.Parse<ActivationPrecision>(Opt("--activations")!, ignoreCase: true), IntOpt("--threads", 0));
    return;
}
if (mode == "write")
{
    // The sweep's model of one size as a file (for load and memory checks outside the sweep).
    // --exits 2,4: with (untrained) exit heads for the depth policies; --bytes: a byte tokenizer, so the console can prompt it.
    var c = SizeSweep.Config(IntOpt("--dim", 768), IntOpt("--layers", 12), shortcut: !args.Contains("--plain"));
    if (Opt("--exits") is { } exits) c = (c with { ExitDepths = [.. exits.Split(',').Select(int.Parse)] }).Validate();
    SizeSweep.Write(c, Opt("--out") ?? "sweep-model.onnx", bytes: args.Contains("--bytes"));
    Console.WriteLine($"wrote {Opt("--out") ?? "sweep-model.onnx"}: {EdgeShortcut.Core.TensorNames.ParameterCount(c) / 1e6:F1}M parameters");
    return;
}
if (mode == "sweep")
{
    bool quick = args.Contains("--quick");
    SizeSweep.Run(Opt("--sizes") ?? (quick ? "128x6,256x6,512x8" : SizeSweep.DefaultSizes), IntOpt("--runs", quick ? 1 : 5), IntOpt("--threads", 0), !args.Contains("--no-load-probes"), args.Contains("--also-one-thread"),
        bf16Cache: !args.Contains("--no-bf16-cache"), int8Cache: !args.Contains("--no-int8-cache"));
    return;
}

Console.WriteLine($"CPU: {Environment.ProcessorCount} logical cores; int8 kernel path: {EdgeShortcut.Runtime.Managed.Kernels.Int8MatVec.Best}; " +
    $".NET {Environment.Version}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; load average {LoadAverage.Read()}; " +
    $"threads per call: managed {EdgeShortcut.Runtime.ThreadBudget.ForManaged(0)}, ONNX Runtime {EdgeShortcut.Runtime.ThreadBudget.ForOnnxRuntime(0)} (equal by default)");
if (mode is "all" or "decode")
{
    Console.WriteLine();
    Console.WriteLine("| model | multiply | weight bytes/token | decode tokens/s, wall | decode tokens/s, thread CPU | CPU us/token | prefill 256 ms, wall / CPU | alloc B/token | weight GB/s (CPU time) |");
    Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
    if (Opt("--model") is { } path)
    {
        foreach (var a in ActivationModes())
        {
            using var engine = ManagedBackend.Load(ModelFile.Read(path), a);
            DecodeBench.Run($"{Path.GetFileName(path)}, {a} activations", engine, runs);
        }
    }
    else
    {
        int layers = IntOpt("--layers", 6), dim = IntOpt("--dim", 128), heads = IntOpt("--heads", 4), ctx = IntOpt("--ctx", 256);
        var shortcutConfig = ShortcutConfig(layers, dim, heads, ctx);
        foreach (var c in new[] { shortcutConfig, shortcutConfig with { Taps = [] } })
            foreach (var (int8, activations) in new[] { (true, ActivationPrecision.Float32), (true, ActivationPrecision.Int8), (false, ActivationPrecision.Float32) })
            {
                using var engine = ManagedBackend.FromOnnx(RandomModel.Build(c, int8), "random", activations);
                string name = c.IsShortcut ? $"shortcut (taps {string.Join(",", c.Taps)}, m {c.FeatureDim})" : "baseline";
                DecodeBench.Run($"{name} L{layers} d{dim} ctx{ctx}, {(int8 ? $"int8 file, {activations} activations" : "fp32 file")}", engine, runs);
            }
    }
}
if (mode is "all" or "compare")
{
    // Shortcut vs equal-depth baseline (issue 4 target: <= 1.2x), plus fewer taps, alternating runs.
    int layers = IntOpt("--layers", 6), dim = IntOpt("--dim", 128), heads = IntOpt("--heads", 4), ctx = IntOpt("--ctx", 256);
    var full = ModelConfig.Create(layers, dim, heads, ctx).Validate();
    var configs = new List<(string Name, ModelConfig Config)> { ($"shortcut, taps 1..{layers - 1}, m {full.FeatureDim}", full) };
    if (Opt("--taps") is { } tapList)
    {
        var custom = ShortcutConfig(layers, dim, heads, ctx);
        configs.Add(($"shortcut, taps {tapList}, m {custom.FeatureDim}", custom));
    }
    configs.Add(($"shortcut, tap {layers - 1} only, m {full.FeatureDim}", full with { Taps = [layers - 1] }));
    configs.Add(("baseline (equal depth)", full with { Taps = [] }));
    foreach (var activations in ActivationModes())
    {
        var list = configs.Select(c => (c.Name, ManagedBackend.FromOnnx(RandomModel.Build(c.Config, true), "random", activations))).ToList();
        Console.WriteLine();
        Console.WriteLine($"int8 file, {activations} activations, L{layers} d{dim} ctx{ctx}, decode from 1 token to a full context, {IntOpt("--rounds", 9)} alternating rounds");
        Console.WriteLine();
        CompareBench.Run(list, IntOpt("--rounds", 9));
        foreach (var (_, e) in list) e.Dispose();
    }
}
if (mode is "all" or "ort")
{
    int layers = IntOpt("--layers", 6), dim = IntOpt("--dim", 128), heads = IntOpt("--heads", 4), ctx = IntOpt("--ctx", 256);
    foreach (bool shortcut in new[] { true, false })
    {
        Console.WriteLine();
        OrtCompareBench.Run(ModelConfig.Create(layers, dim, heads, ctx, shortcut: shortcut).Validate(), IntOpt("--rounds", 5));
    }
}
if (mode is "generation")
{
    GenerationBench.Run(Opt("--model") ?? throw new ArgumentException("generation needs --model PATH (e.g. the sample's models/default.onnx)."),
        IntOpt("--tokens", 2000), IntOpt("--rounds", 3));
}
if (mode is "stream")
{
    StreamBench.Run(IntOpt("--dim", 768), IntOpt("--layers", 12), IntOpt("--rounds", 5), args.Contains("--paired"));
}
if (mode is "profile")
{
    int layers = IntOpt("--layers", 6), dim = IntOpt("--dim", 128), heads = IntOpt("--heads", 4), ctx = IntOpt("--ctx", 256);
    var shortcutConfig = ShortcutConfig(layers, dim, heads, ctx);
    foreach (var activations in ActivationModes())
        foreach (var c in new[] { shortcutConfig, shortcutConfig with { Taps = [] } })
        {
            Console.WriteLine();
            ProfileBench.Run(c, IntOpt("--rounds", 3), activations, args.Contains("--prefill"), args.Contains("--wall"),
                Opt("--from") is null ? 0 : IntOpt("--from", 1), IntOpt("--until", int.MaxValue),
                CacheOpt());
        }
}
if (mode is "prefill")
{
    // Prefill wall time at 1 and 2 threads, interleaved: --dim 768 --layers 12 --rounds 5 [--activations int8] [--caches float32,int8]
    Console.WriteLine();
    foreach (var activations in Opt("--activations") is null ? [ActivationPrecision.Int8] : ActivationModes())
        PrefillBench.Run(IntOpt("--dim", 768), IntOpt("--layers", 12), IntOpt("--rounds", 5), activations, args.Contains("--per-round"),
            Opt("--tiles") is { } tileList ? [.. tileList.Split(',').Select(t => Enum.Parse<EdgeShortcut.Runtime.Managed.Kernels.Int8MatVec.BatchTile>(t, ignoreCase: true))] : null,
            Opt("--caches") is { } cacheList ? [.. cacheList.Split(',').Select(ParseCache)] : null, IntOpt("--pause-ms", 0));
}
if (mode is "gemm")
{
    Console.WriteLine();
    GemmBench.Run(IntOpt("--rounds", 15), Shapes(GemmBench.DefaultShapes), IntOpt("--tokens", 32));
}
if (mode is "depth-reports")
{
    // Issue 10: the cost of depth policies and reports per token; --model FILE (e.g. an exit-trained file), else a
    // random model of the default shape with exits {2,4}.
    var c = (ShortcutConfig(IntOpt("--layers", 6), IntOpt("--dim", 128), IntOpt("--heads", 4), IntOpt("--ctx", 256)) with { ExitDepths = [2, 4] }).Validate();
    using var engine = Opt("--model") is { } file ? ManagedBackend.Load(ModelFile.Read(file)) : ManagedBackend.FromOnnx(RandomModel.Build(c, int8: true), "random");
    Console.WriteLine();
    DepthReportBench.Run(engine, IntOpt("--rounds", 9));
}
if (mode is "busy-decode") BusyDecodeProbe.Run(IntOpt("--dim", 768), IntOpt("--layers", 12), IntOpt("--runs", 4),
    Opt("--activations") is "float32" ? ActivationPrecision.Float32 : ActivationPrecision.Int8);
if (mode is "ports")
{
    Console.WriteLine();
    PortProbe.Run(IntOpt("--rounds", 3));
}
if (mode is "handoff")
{
    Console.WriteLine();
    HandoffProbe.Run(IntOpt("--rounds", 5));
}
if (mode is "attention")
{
    Console.WriteLine();
    AttentionProbe.Run(IntOpt("--dim", 768), IntOpt("--heads", 12), IntOpt("--layers", 12), IntOpt("--ctx", 256), IntOpt("--rounds", 20),
        CacheOpt(), IntOpt("--threads", 2));
}
if (mode is "bandwidth")
{
    Console.WriteLine();
    if (System.Runtime.Intrinsics.X86.Avx.IsSupported) BandwidthProbe.Run(IntOpt("--rounds", 10));
    else Console.WriteLine("bandwidth needs AVX (x86).");
}
if (mode is "split-gemm")
{
    Console.WriteLine();
    SplitGemmBench.Run(IntOpt("--rounds", 9), Shapes([(768, 256), (1024, 256), (256, 1024), (2304, 768), (3072, 768), (768, 3072)]), IntOpt("--tokens", 128));
}
if (mode is "kernels")
{
    Console.WriteLine();
    KernelBench.Run();
}
if (mode is "all" or "matvec")
{
    Console.WriteLine();
    MatVecBench.Run();
}

ActivationPrecision[] ActivationModes() => Opt("--activations") is { } a
    ? [Enum.Parse<ActivationPrecision>(a, ignoreCase: true)]
    : [ActivationPrecision.Float32, ActivationPrecision.Int8];

// The shortcut model to measure: all taps with m = 4d, or --taps a,b with --feature-dim m.
ModelConfig ShortcutConfig(int layers, int dim, int heads, int ctx)
{
    var c = ModelConfig.Create(layers, dim, heads, ctx).Validate();
    return Opt("--taps") is { } tapList
        ? (c with { Taps = [.. tapList.Split(',').Select(int.Parse)], FeatureDim = IntOpt("--feature-dim", c.FeatureDim) }).Validate()
        : c;
}
