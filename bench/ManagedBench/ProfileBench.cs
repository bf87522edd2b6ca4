using System.Numerics.Tensors;
using EdgeShortcut.Core;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// Where a decode step's time goes: replays ManagedSequence's step phase by phase on the engine's
/// own internals and sums the thread CPU time of each phase over a full-context decode.
/// </summary>
internal static class ProfileBench
{
    public static void Run(ModelConfig c, int rounds, Runtime.ActivationPrecision activations)
    {
        var model = RandomModel.Build(c, int8: true);
        var weights = ManagedModelLoader.Load(model, ModelFile.FromMetadata(model.Metadata(), "random"), activations);
        using var s = new RunState(c, useHelperThread: false);
        var phases = new Dictionary<string, double>
        {
            ["blocks: attention (LN, qkv, attend, proj)"] = 0, ["blocks: MLP"] = 0, ["features: MLP"] = 0,
            ["features: kv projection + cache write"] = 0, ["shortcut: q + attend + proj"] = 0, ["shortcut: MLP"] = 0, ["final LN + head"] = 0,
        };
        float eps = c.LayerNormEps;
        for (int round = 0; round <= rounds; round++)
        {
            bool keep = round > 0;
            for (int p = 0; p < c.ContextLength; p++)
            {
                int token = (p * 31 + 7) % c.VocabSize;
                TensorPrimitives.Add(weights.TokenEmbedding.AsSpan(token * c.Dim, c.Dim), weights.PositionEmbedding.AsSpan(p * c.Dim, c.Dim), s.X.AsSpan(0, c.Dim));
                int tap = 0;
                for (int i = 0; i < weights.Blocks.Length; i++)
                {
                    var b = weights.Blocks[i];
                    // Forward = attention half + MLP: time Forward, then an extra MLP alone, and take the difference.
                    double t0 = ThreadClock.Seconds();
                    TransformerBlock.Forward(b, s, i, p, 1, c.Heads, c.ContextLength, eps);
                    double t1 = ThreadClock.Seconds();
                    TransformerBlock.Mlp(b.Ln2, b.Fc, b.Proj, s, s.X.AsSpan(0, c.Dim), 1, eps);   // an extra MLP, timed alone (it perturbs x; timing only)
                    double t2 = ThreadClock.Seconds();
                    if (keep) { phases["blocks: MLP"] += t2 - t1; phases["blocks: attention (LN, qkv, attend, proj)"] += (t1 - t0) - (t2 - t1); }
                    if (tap < c.TapCount && c.Taps[tap] == i + 1)
                    {
                        var f = weights.Features[tap];
                        double f0 = ThreadClock.Seconds();
                        LayerNorm.Apply(s.X.AsSpan(0, c.Dim), f.Ln.Weight, f.Ln.Bias, eps, s.Normed.AsSpan(0, c.Dim));
                        var hidden = s.Hidden.AsSpan(0, f.Fc.Rows);
                        f.Fc.Apply(s.Normed.AsSpan(0, c.Dim), hidden, 1, s.Quantized, null);
                        Gelu.Apply(hidden);
                        f.Proj.Apply(hidden, s.Branch.AsSpan(0, c.Dim), 1, s.Quantized, null);
                        double f1 = ThreadClock.Seconds();
                        ShortcutAttention.AppendFeatures(f, weights.Shortcut!, s, tap, p, 1, c.TapCount, c.Heads, eps);
                        double f2 = ThreadClock.Seconds();
                        if (keep) { phases["features: MLP"] += f1 - f0; phases["features: kv projection + cache write"] += (f2 - f1) - (f1 - f0); }
                        tap++;
                    }
                }
                if (weights.Shortcut is { } sc)
                {
                    double t0 = ThreadClock.Seconds();
                    ShortcutAttention.Forward(sc, s, 0, p, c.TapCount, c.Heads, eps);
                    double t1 = ThreadClock.Seconds();
                    TransformerBlock.Mlp(sc.Ln2, sc.Fc, sc.Proj, s, s.X.AsSpan(0, c.Dim), 1, eps);
                    double t2 = ThreadClock.Seconds();
                    if (keep) { phases["shortcut: MLP"] += t2 - t1; phases["shortcut: q + attend + proj"] += (t1 - t0) - (t2 - t1); }
                }
                double h0 = ThreadClock.Seconds();
                LayerNorm.Apply(s.X.AsSpan(0, c.Dim), weights.FinalNorm.Weight, weights.FinalNorm.Bias, eps, s.Normed.AsSpan(0, c.Dim));
                weights.Head.Apply(s.Normed.AsSpan(0, c.Dim), s.Logits, 1, s.Quantized, null);
                if (keep) phases["final LN + head"] += ThreadClock.Seconds() - h0;
            }
        }
        double tokens = rounds * (double)c.ContextLength;
        Console.WriteLine($"{(c.IsShortcut ? "shortcut" : "baseline")} L{c.Layers} d{c.Dim} ctx{c.ContextLength}, int8 file, {activations} activations: thread CPU us per token, averaged over positions 0..{c.ContextLength - 1}");
        Console.WriteLine();
        Console.WriteLine("| phase | us/token | share |");
        Console.WriteLine("|---|---|---|");
        double total = phases.Values.Sum();
        foreach (var (name, sec) in phases) Console.WriteLine($"| {name} | {sec * 1e6 / tokens:F1} | {sec / total:P0} |");
        Console.WriteLine($"| total | {total * 1e6 / tokens:F1} | |");
    }
}
