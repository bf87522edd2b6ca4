using System.Diagnostics;
using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.ManagedBench;
using EdgeShortcut.Runtime.Managed;

// Usage: ManagedBench [all|decode|compare|ort|matvec|kernels] [--model PATH] [--layers 6] [--dim 128] [--heads 4] [--ctx 256] [--runs 7]
// Prints markdown tables (the source of docs/BENCHMARKS.md, section "Managed engine").
string mode = args.Length > 0 && !args[0].StartsWith("--") ? args[0] : "all";
string? Opt(string name) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
int IntOpt(string name, int fallback) => Opt(name) is { } v ? int.Parse(v) : fallback;
int runs = IntOpt("--runs", 7);

Console.WriteLine($"CPU: {Environment.ProcessorCount} logical cores; int8 kernel path: {EdgeShortcut.Runtime.Managed.Kernels.Int8MatVec.Best}; " +
    $".NET {Environment.Version}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
if (mode is "all" or "decode")
{
    Console.WriteLine();
    Console.WriteLine("| model | precision | weight bytes/token | decode tokens/s (median) | us/token | prefill 256 ms | alloc B/token | GB/s effective |");
    Console.WriteLine("|---|---|---|---|---|---|---|---|");
    if (Opt("--model") is { } path)
    {
        using var engine = ManagedBackend.Load(path);
        DecodeBench.Run(Path.GetFileName(path), engine, runs);
    }
    else
    {
        int layers = IntOpt("--layers", 6), dim = IntOpt("--dim", 128), heads = IntOpt("--heads", 4), ctx = IntOpt("--ctx", 256);
        foreach (bool shortcut in new[] { true, false })
            foreach (bool int8 in new[] { true, false })
            {
                var c = ModelConfig.Create(layers, dim, heads, ctx, shortcut: shortcut).Validate();
                using var engine = ManagedBackend.FromOnnx(RandomModel.Build(c, int8), "random");
                DecodeBench.Run($"{(shortcut ? "shortcut" : "baseline")} L{layers} d{dim} ctx{ctx}", engine, runs);
            }
    }
}
if (mode is "all" or "compare")
{
    // Shortcut vs equal-depth baseline (issue 4 target: <= 1.2x), plus fewer taps, alternating runs.
    int layers = IntOpt("--layers", 6), dim = IntOpt("--dim", 128), heads = IntOpt("--heads", 4), ctx = IntOpt("--ctx", 256);
    var full = ModelConfig.Create(layers, dim, heads, ctx).Validate();
    var list = new List<(string, ManagedBackend)>
    {
        ($"shortcut, taps 1..{layers - 1}", ManagedBackend.FromOnnx(RandomModel.Build(full, true), "random")),
        ($"shortcut, tap {layers - 1} only", ManagedBackend.FromOnnx(RandomModel.Build(full with { Taps = [layers - 1] }, true), "random")),
        ("baseline (equal depth)", ManagedBackend.FromOnnx(RandomModel.Build(full with { Taps = [] }, true), "random")),
    };
    Console.WriteLine();
    Console.WriteLine($"int8, L{layers} d{dim} ctx{ctx}, decode from 1 token to a full context, {IntOpt("--rounds", 9)} alternating rounds");
    Console.WriteLine();
    CompareBench.Run(list, IntOpt("--rounds", 9));
    foreach (var (_, e) in list) e.Dispose();
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
if (mode is "profile")
{
    int layers = IntOpt("--layers", 6), dim = IntOpt("--dim", 128), heads = IntOpt("--heads", 4), ctx = IntOpt("--ctx", 256);
    foreach (bool shortcut in new[] { true, false })
    {
        Console.WriteLine();
        ProfileBench.Run(ModelConfig.Create(layers, dim, heads, ctx, shortcut: shortcut).Validate(), IntOpt("--rounds", 3));
    }
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
