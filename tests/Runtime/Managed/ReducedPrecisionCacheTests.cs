using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Issue 13, late tokens: with bfloat16 or int8 key/value caches the engine computes one function however the
/// tokens arrive, stays near the float32 caches' result, and decodes without allocating.</summary>
public class ReducedPrecisionCacheTests
{
    [Theory]
    [InlineData(KeyValueCachePrecision.BFloat16, true, 1)]
    [InlineData(KeyValueCachePrecision.BFloat16, true, 2)]
    [InlineData(KeyValueCachePrecision.BFloat16, false, 2)]
    [InlineData(KeyValueCachePrecision.Int8, true, 1)]
    [InlineData(KeyValueCachePrecision.Int8, true, 2)]
    [InlineData(KeyValueCachePrecision.Int8, false, 2)]
    public void A_prefill_equals_token_by_token_decode_bit_for_bit_and_stays_near_float32(KeyValueCachePrecision precision, bool shortcut, int threads)
    {
        int length = RunState.MaxChunkTokens + 22;   // a full chunk and a short one
        var c = ManagedAllocationTests.Wide() with { ContextLength = length + 10, Taps = shortcut ? [1] : [] };
        var weights = TinyCheckpoint.RandomWeights(c.Validate(), seed: 12);
        var onnx = OnnxReader.Read(OnnxWriter.ToBytes(ManagedTestModels.Build(c, weights, int8: true)), "test.onnx");
        using var reduced = ManagedBackend.FromOnnx(onnx, "test.onnx", ActivationPrecision.Int8, threads, precision);
        using var f32 = ManagedBackend.FromOnnx(onnx, "test.onnx", ActivationPrecision.Int8, threads);
        Assert.Equal(precision, reduced.KeyValueCache);
        var prompt = Enumerable.Range(0, length).Select(i => (i * 37 + 5) % 256).ToArray();
        using var whole = reduced.CreateSequence();
        using var single = reduced.CreateSequence();
        using var reference = f32.CreateSequence();
        var a = whole.Append(prompt).ToArray();
        float[] b = [];
        foreach (int t in prompt) b = single.Append([t]).ToArray();
        Assert.Equal(b, a);
        Assert.Equal(single.Append([42]).ToArray(), whole.Append([42]).ToArray());
        reference.Append(prompt);
        var exact = reference.Append([42]).ToArray();
        double nmse = ManagedTestModels.Nmse([whole.Append([7]).ToArray()], [reference.Append([7]).ToArray()]);
        double bound = precision == KeyValueCachePrecision.BFloat16 ? 1e-3 : 1e-2;   // 8 significant bits; 127 steps per head
        Assert.True(nmse > 0 && nmse < bound, $"NMSE {nmse:E2} against the float32 cache");   // rounded, but close
        Assert.NotEqual(exact, b);
    }

    [Theory]
    [InlineData(KeyValueCachePrecision.BFloat16)]
    [InlineData(KeyValueCachePrecision.Int8)]
    public void Decode_allocates_nothing_per_token(KeyValueCachePrecision precision)
    {
        var c = ManagedAllocationTests.Wide() with { ContextLength = 64 };
        var weights = TinyCheckpoint.RandomWeights(c.Validate(), seed: 2);
        var onnx = OnnxReader.Read(OnnxWriter.ToBytes(ManagedTestModels.Build(c, weights, int8: true)), "test.onnx");
        using var engine = ManagedBackend.FromOnnx(onnx, "test.onnx", ActivationPrecision.Int8, 0, precision);
        using var s = engine.CreateSequence();
        s.Append([1, 2, 3, 4, 5, 6, 7, 8]);
        for (int i = 0; i < 4; i++) s.Append([i]);   // warm-up: the thread's widening scratch is sized once
        SteadyStateAllocations.AssertNoneBeyondOneWindow(SteadyStateAllocations.PerWindow(i => s.Append([i + 9]), windows: 6, stepsPerWindow: 8));
    }
}
