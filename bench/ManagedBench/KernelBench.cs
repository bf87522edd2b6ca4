using System.Diagnostics;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.ManagedBench;

/// <summary>Per-kernel times at the d128 model's sizes, to see where a decode step goes.</summary>
internal static class KernelBench
{
    public static void Run()
    {
        var rng = new Random(3);
        float[] R(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        var x128 = R(128); var w128 = R(128); var b128 = R(128); var y128 = new float[128];
        var h512 = R(512); var q512 = new sbyte[512]; var s16 = new float[16]; var o16 = new int[16];
        var q32 = R(32); var o32 = new float[32];
        var kt = R(32 * 1280); var v = R(1280 * 32); var scores = new float[1280];
        Console.WriteLine("| kernel | thread-CPU us per call (best of 11) |");
        Console.WriteLine("|---|---|");
        Row("LayerNorm d128", () => LayerNorm.Apply(x128, w128, b128, 1e-5f, y128));
        Row("GELU 512", () => { h512.AsSpan().CopyTo(scores); Gelu.Apply(scores.AsSpan(0, 512)); });
        Row("quantize 128", () => ActivationQuantizer.Quantize(x128, q512.AsSpan(0, 128), s16.AsSpan(0, 4), o16.AsSpan(0, 4)));   // a d128 row: 4 blocks
        Row("quantize 512", () => ActivationQuantizer.Quantize(h512, q512, s16, o16));
        // The MLP hidden row of the 85M model (d_ff 3072): the serial work the fc layer's fused epilogue now shares.
        var h3072 = R(3072); var g3072 = new float[3072]; var q3072 = new sbyte[3072]; var s96 = new float[96]; var o96 = new int[96];
        Row("GELU 3072", () => { h3072.AsSpan().CopyTo(g3072); Gelu.Apply(g3072); });
        Row("quantize 3072", () => ActivationQuantizer.Quantize(h3072, q3072, s96, o96));
        Row("softmax 1280", () => { Softmax.Apply(scores); });
        var fresh = R(1280); var tmp = new float[1280];
        Row("TP.Max 1280", () => System.Numerics.Tensors.TensorPrimitives.Max(fresh));
        Row("TP.Exp 1280", () => System.Numerics.Tensors.TensorPrimitives.Exp(fresh, tmp));
        Row("TP.Sum 1280", () => System.Numerics.Tensors.TensorPrimitives.Sum(fresh));
        Row("TP.Subtract 1280", () => System.Numerics.Tensors.TensorPrimitives.Subtract(fresh, 0.5f, tmp));
        Row("TP.Multiply 1280", () => System.Numerics.Tensors.TensorPrimitives.Multiply(fresh, 0.5f, tmp));
        Row("attend hd32 n128 (one head)", () => AttentionKernels.Attend(q32, kt, 1280, v, scores.AsSpan(0, 128), o32));
        Row("attend hd32 n640 (one head)", () => AttentionKernels.Attend(q32, kt, 1280, v, scores.AsSpan(0, 640), o32));
        var kts = Enumerable.Range(0, 32).Select(_ => R(32 * 1280)).ToArray();
        var vs = Enumerable.Range(0, 32).Select(_ => R(1280 * 32)).ToArray();
        int next = 0;
        Row("attend hd32 n1280, 32 rotating 320 KB caches (beyond L2)", () => { next = (next + 1) & 31; AttentionKernels.Attend(q32, kts[next], 1280, vs[next], scores, o32); });
        Row("scores hd32 n1280, rotating (beyond L2)", () => { next = (next + 1) & 31; AttentionKernels.Scores(q32, kts[next], 1280, scores); });
        Row("weighted sum hd32 n1280, rotating (beyond L2)", () => { next = (next + 1) & 31; AttentionKernels.WeightedSum(scores, vs[next], o32); });
        Row("scores hd32 n640", () => AttentionKernels.Scores(q32, kt, 1280, scores.AsSpan(0, 640)));
        Row("weighted sum hd32 n640", () => AttentionKernels.WeightedSum(scores.AsSpan(0, 640), v, o32));
        // A prefill's four causal queries of one hd-64 head over 128 positions (the 85M model's mid-prompt shape), one
        // query at a time against one query block (2 x 4 x 64 x ~130 MACs = 66.6 kMAC either way).
        var kt64 = R(64 * 256); var v64 = R(256 * 64); var q4 = R(4 * 192); var o4 = new float[4 * 64];
        var scores4 = new float[4 * 256];
        // A late decode step of a model with hd-64 heads (d128-d768 here) over 240 cached positions: one head's work.
        var q64 = R(64); var o64 = new float[64];
        Row("scores hd64 n240", () => AttentionKernels.Scores(q64, kt64, 256, scores.AsSpan(0, 240)));
        Row("weighted sum hd64 n240", () => AttentionKernels.WeightedSum(scores.AsSpan(0, 240), v64, o64));
        Row("attend hd64 n240 (one head)", () => AttentionKernels.Attend(q64, kt64, 256, v64, scores.AsSpan(0, 240), o64));
        // The same over int8 caches (KeyValueCachePrecision.Int8): integer chains over the pair-interleaved layouts
        // (Int8CacheAttention; random bytes, the layout does not change the time).
        var scales256 = R(256).Select(x => Math.Abs(x) * 0.01f).ToArray();
        var kp64i8 = kt64.Select(x => (sbyte)(x * 127)).ToArray(); var vp64i8 = v64.Select(x => (sbyte)(x * 127)).ToArray();
        var short256 = new short[257]; var qq64 = new short[64];
        float sq64 = Int8CacheAttention.QuantizeQuery(q64, qq64);
        Row("scores hd64 n240, int8 cache", () => Int8CacheAttention.Scores(qq64, kp64i8, 256, sq64, scales256, scores.AsSpan(0, 240)));
        Row("weighted sum hd64 n240, int8 cache", () => Int8CacheAttention.WeightedSum(short256, vp64i8, 240, 1e-5f, o64));
        Row("quantize query hd64 to int16", () => Int8CacheAttention.QuantizeQuery(q64, qq64));
        var p240 = R(240).Select(x => Math.Abs(x) / 120).ToArray();
        Row("quantize weights n240 to int16", () => Int8CacheAttention.QuantizeWeights(p240, scales256.AsSpan(0, 240), short256));
        Row("softmax 240", () => { p240.AsSpan().CopyTo(scores); Softmax.Apply(scores.AsSpan(0, 240)); });
        Row("attend hd64 n240 (one head), int8 cache", () => Int8CacheAttention.Attend(q64, kp64i8, scales256, vp64i8, scales256, 256,
            scores.AsSpan(0, 240), o64, default, short256));
        var k128 = R(128); var key8 = new sbyte[64];
        Row("quantize one int8 cache head (hd64)", () => Int8CacheQuantizer.Quantize(k128.AsSpan(0, 64), key8));
        Row("4 queries hd64 n128-131, one at a time", () =>
        {
            for (int i = 0; i < 4; i++)
                AttentionKernels.Attend(q4.AsSpan(i * 192, 64), kt64, 256, v64, scores4.AsSpan(0, 128 + i), o4.AsSpan(i * 64, 64));
        });
        Row("softmax 4 x 128-131", () => { for (int i = 0; i < 4; i++) Softmax.Apply(scores4.AsSpan(i * 131, 128 + i)); });
        Row("4 queries hd64 n128-131, one query block", () => QueryBlockAttention.Attend(q4, 192, 64, kt64, 256, v64, 128, scores4, o4, 64, default));
        Row("4 queries hd64 n128-131, one at a time, int8 cache", () =>
        {
            for (int i = 0; i < 4; i++)
                Int8CacheAttention.Attend(q4.AsSpan(i * 192, 64), kp64i8, scales256, vp64i8, scales256, 256, scores4.AsSpan(0, 128 + i), o4.AsSpan(i * 64, 64), default, short256);
        });
        var kt32 = R(32 * 256); var v32 = R(256 * 32); var q32b = R(4 * 384); var o32b = new float[4 * 128];
        Row("4 queries hd32 n128-131, one query block", () => QueryBlockAttention.Attend(q32b, 384, 32, kt32, 256, v32, 128, scores4, o32b, 128, default));
        Row("4 queries hd32 n4-7, one query block (the fixed cost)", () => QueryBlockAttention.Attend(q32b, 384, 32, kt32, 256, v32, 4, scores4, o32b, 128, default));
        Row("4 queries hd32 n250-253, one query block", () => QueryBlockAttention.Attend(q32b, 384, 32, kt32, 256, v32, 250, scores4, o32b, 128, default));
    }

    private static void Row(string name, Action call)
    {
        // Warm up for 300 ms and at least 2000 calls, so tiered JIT has promoted every callee
        // (TensorPrimitives included) to optimized code before timing.
        var sw = Stopwatch.StartNew();
        int reps = 0;
        while (sw.Elapsed.TotalMilliseconds < 300 || reps < 2000) { call(); reps++; }
        reps = (int)(reps * 20 / sw.Elapsed.TotalMilliseconds);
        var samples = new List<double>();
        for (int s = 0; s < 11; s++)
        {
            double t0 = ThreadClock.Seconds();
            for (int i = 0; i < reps / 10 + 1; i++) call();
            samples.Add((ThreadClock.Seconds() - t0) * 1e6 / (reps / 10 + 1));
        }
        Console.WriteLine($"| {name} | {samples.Min():F3} |");
    }
}
