using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Runtime.Managed.Kernels;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Issue 13, late tokens: the managed engine can keep its key/value caches in bfloat16
/// (<see cref="KeyValueCachePrecision.BFloat16"/>), half the bytes a decode step reads from them.</summary>
public class BFloat16CacheTests
{
    [Fact]
    public void Narrowing_rounds_to_nearest_even_and_widening_is_exact()
    {
        Assert.Equal(0x3F80, BFloat16.FromSingle(1f));
        Assert.Equal(0x3F80, BFloat16.FromSingle(1f + MathF.Pow(2, -8)));            // a tie: stays on the even 1.0
        Assert.Equal(0x3F82, BFloat16.FromSingle(1f + 3 * MathF.Pow(2, -8)));        // a tie: goes up to the even neighbour
        Assert.Equal(0x3F81, BFloat16.FromSingle(1f + MathF.Pow(2, -8) + MathF.Pow(2, -20)));   // past the tie
        Assert.Equal(0xBF80, BFloat16.FromSingle(-1f));
        Assert.Equal(0x7F80, BFloat16.FromSingle(float.PositiveInfinity));
        Assert.True(float.IsNaN(BFloat16.ToSingle(BFloat16.FromSingle(float.NaN))));
        Assert.Equal(1.5f, BFloat16.ToSingle(0x3FC0));

        var rng = new Random(4);
        foreach (int n in new[] { 0, 1, 31, 32, 33, 100 })
        {
            var x = Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-6, 6)))).ToArray();
            var narrowed = new ushort[n];
            BFloat16.Narrow(x, narrowed);
            var widened = new float[n];
            BFloat16.Widen(narrowed, widened);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(BFloat16.FromSingle(x[i]), narrowed[i]);              // the vector loop gives the scalar bits
                Assert.Equal(BFloat16.ToSingle(narrowed[i]), widened[i]);
                Assert.True(Math.Abs(widened[i] - x[i]) <= Math.Abs(x[i]) * Math.Pow(2, -8), $"{x[i]} -> {widened[i]}");
            }
        }
    }

    [Theory]
    [InlineData(8, 1)]
    [InlineData(20, 37)]      // columns past the vector loops, a partial run of positions
    [InlineData(32, 200)]
    [InlineData(64, 131)]
    public void The_attention_kernels_read_bfloat16_as_the_float32_kernels_read_its_widened_values(int hd, int n)
    {
        var rng = new Random(hd * 1000 + n);
        int stride = n + 5;
        var q = Enumerable.Range(0, hd).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var kt16 = Enumerable.Range(0, hd * stride).Select(_ => BFloat16.FromSingle((float)(rng.NextDouble() * 4 - 2))).ToArray();
        var v16 = Enumerable.Range(0, stride * hd).Select(_ => BFloat16.FromSingle((float)(rng.NextDouble() * 4 - 2))).ToArray();
        var kt = kt16.Select(BFloat16.ToSingle).ToArray();
        var v = v16.Select(BFloat16.ToSingle).ToArray();
        var (s1, s2, o1, o2) = (new float[n], new float[n], new float[hd], new float[hd]);
        AttentionKernels.Attend(q, kt, stride, v, s1, o1);
        AttentionKernels.Attend<ushort, BFloat16Row>(q, kt16, stride, v16, s2, o2, default);
        Assert.Equal(s1, s2);   // the probabilities
        Assert.Equal(o1, o2);
    }

    [Theory]
    [InlineData(KeyValueCachePrecision.Float32)]
    [InlineData(KeyValueCachePrecision.BFloat16)]
    public void A_cache_hands_attention_each_heads_slots_as_stored_and_sees_later_writes(KeyValueCachePrecision precision)
    {
        const int d = 16, heads = 2, hd = 8, n = 20;
        var cache = new LayerCache(d, heads, n, precision);
        float Stored(float x) => precision == KeyValueCachePrecision.Float32 ? x : BFloat16.ToSingle(BFloat16.FromSingle(x));
        float Key(int p, int c) => 0.1f * p + 0.013f * c + 1f / 3;
        float Value(int p, int c) => -0.07f * p + 0.011f * c - 1f / 7;
        // Nine tokens in one append (a prefill), then one more (a decode step).
        var rows = new float[9 * 3 * d];
        for (int t = 0; t < 9; t++)
            for (int c = 0; c < d; c++) { rows[t * 3 * d + d + c] = Key(t, c); rows[t * 3 * d + 2 * d + c] = Value(t, c); }
        cache.MarkWritten();
        cache.AppendUnmarked(rows, 3 * d, 9, heads, 0);   // as a prefill stage appends its tokens
        void Check(int slots)
        {
            for (int h = 0; h < heads; h++)
            {
                var view = cache.Head(h, heads, slots);
                for (int p = 0; p < slots; p++)
                    for (int c = 0; c < hd; c++)
                    {
                        Assert.Equal(Stored(Key(p, h * hd + c)), view.Keys[c * view.KeyStride + p]);
                        Assert.Equal(Stored(Value(p, h * hd + c)), view.Values[p * hd + c]);
                    }
            }
        }
        Check(9);
        var next = new float[3 * d];   // a decode step's qkv row: its key and value written by the product's epilogue
        for (int c = 0; c < d; c++) { next[d + c] = Key(9, c); next[2 * d + c] = Value(9, c); }
        cache.MarkWritten();
        CacheTokens.AppendRows(next, 0, 0, new KeyValueAppend(cache, 9, heads));
        Check(10);   // the widened copy of a head made before the write is not reused
        cache.MarkWritten();   // as the shortcut memory writes an entry
        cache.SetKeyUnmarked(Enumerable.Range(0, d).Select(c => Key(10, c)).ToArray(), 10);
        cache.SetValueUnmarked(Enumerable.Range(0, d).Select(c => Value(10, c)).ToArray(), heads, 10);
        Check(11);
        // A slot written again (a sequence reset and refilled, or a speculative rewind) is read as written, though a
        // widened copy of this head over as many slots already exists.
        var rewritten = Enumerable.Range(0, d).Select(c => -Key(3, c)).ToArray();
        cache.MarkWritten();
        cache.SetKeyUnmarked(rewritten, 3);
        for (int h = heads - 1; h >= 0; h--)   // the last head widened first
            for (int c = 0; c < hd; c++)
            {
                var view = cache.Head(h, heads, 11);
                Assert.Equal(Stored(rewritten[h * hd + c]), view.Keys[c * view.KeyStride + 3]);
            }
        Assert.Equal(precision == KeyValueCachePrecision.Float32 ? 2 * d * 4 : 2 * d * 2, cache.BytesPerSlot);
    }

    [Fact]
    public void Only_the_managed_engine_keeps_a_bfloat16_cache_and_Auto_picks_it()
    {
        Assert.Throws<ArgumentException>(() => new EdgeModelOptions { KeyValueCache = (KeyValueCachePrecision)7 }.Validate());
        var tried = new List<BackendKind>();
        var selector = new BackendSelector(() => ["DmlExecutionProvider", "CPUExecutionProvider"], k => { tried.Add(k); return new FakeBackend(FakeBackend.ByteConfig(), _ => new float[256]); },
            CpuBackendChoice.For(EdgeShortcut.Runtime.CpuFeatures.Current, 1_000_000, "int8"), managedOnly: "KeyValueCache = BFloat16 is a managed-engine option");
        var (_, reason) = selector.Select(BackendKind.Auto);
        Assert.Equal([BackendKind.Managed], tried);   // not even DirectML is tried
        Assert.Contains("BFloat16 is a managed-engine option", reason);
        Assert.Contains("BFloat16", Assert.Throws<NotSupportedException>(() => selector.Select(BackendKind.Cpu)).Message);
        Assert.Throws<NotSupportedException>(() => selector.Select(BackendKind.DirectML));
        Assert.Equal([BackendKind.Managed], tried);
    }
}
