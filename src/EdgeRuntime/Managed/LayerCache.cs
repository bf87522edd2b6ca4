using System.Runtime.CompilerServices;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// One attention layer's key/value cache over <see cref="Capacity"/> slots (positions, or shortcut memory entries) of
/// width d = H hd: keys transposed <c>[H, hd, capacity]</c> (row h*hd + c holds channel c of head h for every slot, so
/// scores are vector multiply-adds over slots), values <c>[H, capacity, hd]</c>. Stored as float32, bfloat16 or int8
/// (<see cref="KeyValueCachePrecision"/>); int8 adds one key scale and one value scale per head and slot, <c>[H, capacity]</c>
/// (<see cref="Int8CacheQuantizer"/>), so an int8 slot is written a whole head at a time, and interleaves its integers in
/// pairs for the integer kernels (<see cref="Int8CacheAttention"/>: keys <c>[H, hd/2, capacity, 2]</c>, values
/// <c>[H, capacity/2, hd, 2]</c>).
/// <para>float32 and bfloat16: attention multiplies float32 values (bfloat16 widened exactly by a shift). A decode step's
/// kernels (<see cref="Attend"/>) widen in registers as they load, so they read half the bytes; a prefill's query blocks widen
/// a bfloat16 head once into scratch of the calling thread (<see cref="Head"/>) and share it across the chunk's tokens. Both run
/// the float32 kernels' arithmetic on the same values. int8: every query, in decode and prefill alike, runs
/// <see cref="Int8CacheAttention"/>'s exact integer chains. Either way a prefill equals token-by-token decode bit for bit.</para>
/// </summary>
internal sealed class LayerCache
{
    // Plain arrays, not AlignedArray: aligned caches bought no measurable decode speed (docs/BENCHMARKS.md, tenth session).
    // Their first version also made a d128 shortcut model's two-thread prefill 2-3x slower: the per-element writes of a
    // shortcut entry went through AlignedArray's indexer, which re-reads that small object's fields on every element (most
    // likely on a cache line the other thread was writing). Taking the span once per call fixed it.
    private readonly float[]? _keys, _values;
    private readonly ushort[]? _keys16, _values16;
    private readonly sbyte[]? _keys8, _values8;
    private readonly float[]? _keyScales, _valueScales;   // int8: [H, capacity]
    private int _version;   // bumped by every write: a widened copy of a head is valid for one version
    private readonly long _id = Interlocked.Increment(ref s_nextId);   // names this cache in a thread's scratch (no reference kept)
    private static long s_nextId;

    /// <summary>An empty cache of <paramref name="capacity"/> slots of width <paramref name="dim"/> = <paramref name="heads"/> x hd.</summary>
    public LayerCache(int dim, int heads, int capacity, KeyValueCachePrecision precision)
    {
        if (dim < 1 || heads < 1 || dim % heads != 0 || capacity < 0) throw new ArgumentOutOfRangeException(nameof(heads), $"A cache of {capacity} slots of {heads} heads over width {dim}.");
        Dim = dim;
        Heads = heads;
        Capacity = capacity;
        Precision = precision;
        long size = (long)dim * capacity;
        switch (precision)
        {
            case KeyValueCachePrecision.Float32: (_keys, _values) = (new float[size], new float[size]); break;
            case KeyValueCachePrecision.BFloat16: (_keys16, _values16) = (new ushort[size], new ushort[size]); break;
            case KeyValueCachePrecision.Int8:
                if (capacity > Int8CacheAttention.MaxSlots) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"An int8 cache holds at most {Int8CacheAttention.MaxSlots} slots.");
                int hd = dim / heads;
                (_keys8, _values8) = (new sbyte[(long)heads * Int8CacheAttention.KeyLength(hd, capacity)], new sbyte[(long)heads * Int8CacheAttention.ValueLength(hd, capacity)]);
                (_keyScales, _valueScales) = (new float[heads * capacity], new float[heads * capacity]);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(precision), precision, "Not a KeyValueCachePrecision.");
        }
    }

    /// <summary>d, the width of a key or value (all heads).</summary>
    public int Dim { get; }
    /// <summary>H, the heads the width is split into.</summary>
    public int Heads { get; }
    /// <summary>Slots per head.</summary>
    public int Capacity { get; }
    /// <summary>How the values are stored.</summary>
    public KeyValueCachePrecision Precision { get; }
    /// <summary>Bytes of one slot's key and value (what a decode step reads per cached slot).</summary>
    public int BytesPerSlot => SlotBytes(Dim, Heads, Precision);

    /// <summary>Bytes of one slot's key and value in a cache of width <paramref name="dim"/> over <paramref name="heads"/>
    /// heads stored as <paramref name="precision"/> (int8: the integers and one float32 scale per head for each).</summary>
    public static int SlotBytes(int dim, int heads, KeyValueCachePrecision precision) => precision switch
    {
        KeyValueCachePrecision.Float32 => 2 * dim * 4,
        KeyValueCachePrecision.BFloat16 => 2 * dim * 2,
        _ => 2 * dim + 2 * heads * sizeof(float),
    };

    /// <summary>Whether a slot's key or value can be written in chunks of channels that split a head
    /// (<see cref="SetKeyChannelsUnmarked"/>): not for int8, whose scale covers the whole head.</summary>
    public bool AcceptsPartialHeads => Precision != KeyValueCachePrecision.Int8;

    /// <summary>Keys and values of T consecutive slots p0..p0+T-1 from rows laid out as a block's qkv output: token t's key is
    /// <c>rows[t * stride + d .. + d]</c> and its value the d floats after it. Does not mark the cache written: the caller
    /// calls <see cref="MarkWritten"/> once first, on one thread, so that two threads can append their tokens side by side
    /// without both writing the version's cache line.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AppendUnmarked(ReadOnlySpan<float> rows, int stride, int T, int heads, int p0)
    {
        int d = Dim;
        if (_keys8 is not null)
        {
            for (int t = 0; t < T; t++) SetKeyChannelsUnmarked(rows.Slice(t * stride + d, d), 0, p0 + t);
        }
        else AppendKeysUnmarked(rows[d..], stride, T, p0);
        for (int t = 0; t < T; t++) SetValueUnmarked(rows.Slice(t * stride + 2 * d, d), heads, p0 + t);
    }

    /// <summary>Invalidates every thread's widened copy of this cache (<see cref="Head"/>): call before writing slots.</summary>
    public void MarkWritten() => _version++;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AppendKeysUnmarked(ReadOnlySpan<float> src, int srcStride, int T, int p0)
    {
        int d = Dim, n = Capacity;
        if (_keys is not null)
        {
            KeyTranspose.Append(src, srcStride, d, T, _keys, n, p0);
            return;
        }
        if (T == 1)
        {
            for (int c = 0; c < d; c++) _keys16![c * n + p0] = BFloat16.FromSingle(src[c]);
            return;
        }
        // Transpose in float32 (KeyTranspose's tiles), then narrow each channel's T floats into its cache row.
        var scratch = Scratch(ref t_transposed, d * Math.Max(T, RunState.MaxChunkTokens));
        KeyTranspose.Append(src, srcStride, d, T, scratch, T, 0);
        for (int c = 0; c < d; c++) BFloat16.Narrow(scratch.AsSpan(c * T, T), _keys16.AsSpan(c * n + p0, T));
    }

    /// <summary>The key <c>[d]</c> of one slot <paramref name="e"/> (the shortcut memory's slots are not consecutive per token),
    /// without marking the cache written: the caller calls <see cref="MarkWritten"/> first (see <see cref="AppendUnmarked"/>).</summary>
    public void SetKeyUnmarked(ReadOnlySpan<float> key, int e) => SetKeyChannelsUnmarked(key[..Dim], 0, e);

    /// <summary>Channels <paramref name="c0"/>.. of slot <paramref name="e"/>'s key (<paramref name="key"/> holds them), without
    /// marking the cache written: a decode step's qkv job writes each thread's rows as it computes them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void SetKeyChannelsUnmarked(ReadOnlySpan<float> key, int c0, int e)
    {
        int n = Capacity;
        if ((uint)e >= (uint)n || c0 < 0 || c0 + key.Length > Dim) throw new ArgumentOutOfRangeException(nameof(c0), $"Channels {c0}..{c0 + key.Length - 1} of slot {e} are outside {Dim} x {n}.");
        // The array once, into a local: indexing the field reloads it from this object on every element.
        if (_keys is { } keys) for (int i = 0; i < key.Length; i++) keys[(c0 + i) * n + e] = key[i];
        else if (_keys16 is { } keys16) for (int i = 0; i < key.Length; i++) keys16[(c0 + i) * n + e] = BFloat16.FromSingle(key[i]);
        else
        {
            int hd = Dim / Heads, length = Int8CacheAttention.KeyLength(hd, n);
            CheckWholeHeads(c0, key.Length, hd);
            var keys8 = _keys8!;
            Span<sbyte> quantized = hd <= 1024 ? stackalloc sbyte[hd] : new sbyte[hd];
            for (int i = 0; i < key.Length; i += hd)
            {
                int h = (c0 + i) / hd;
                _keyScales![h * n + e] = Int8CacheQuantizer.Quantize(key.Slice(i, hd), quantized);
                var head = keys8.AsSpan(h * length, length);
                for (int c = 0; c < hd; c++) head[Int8CacheAttention.KeyIndex(c, e, n)] = quantized[c];
            }
        }
    }

    private void CheckWholeHeads(int c0, int length, int hd)
    {
        if (c0 % hd != 0 || length % hd != 0)
            throw new InvalidOperationException($"An int8 cache quantizes whole heads: channels {c0}..{c0 + length - 1} split a head of {hd}.");
    }

    /// <summary>Channels <paramref name="c0"/>.. (heads side by side) of slot <paramref name="e"/>'s value, without marking the
    /// cache written (see <see cref="SetKeyChannelsUnmarked"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void SetValueChannelsUnmarked(ReadOnlySpan<float> value, int c0, int heads, int e)
    {
        int hd = Dim / heads, n = Capacity;
        if ((uint)e >= (uint)n || c0 < 0 || c0 + value.Length > Dim) throw new ArgumentOutOfRangeException(nameof(c0), $"Channels {c0}..{c0 + value.Length - 1} of slot {e} are outside {Dim} x {n}.");
        if (heads != Heads) throw new ArgumentException($"A cache of {Heads} heads written as {heads}.", nameof(heads));
        if (_values8 is { } values8)
        {
            CheckWholeHeads(c0, value.Length, hd);
            int length = Int8CacheAttention.ValueLength(hd, n);
            Span<sbyte> quantized = hd <= 1024 ? stackalloc sbyte[hd] : new sbyte[hd];
            for (int i = 0; i < value.Length; i += hd)
            {
                int h = (c0 + i) / hd;
                _valueScales![h * n + e] = Int8CacheQuantizer.Quantize(value.Slice(i, hd), quantized);
                var head = values8.AsSpan(h * length, length);
                for (int c = 0; c < hd; c++) head[Int8CacheAttention.ValueIndex(e, c, hd)] = quantized[c];
            }
            return;
        }
        for (int i = 0; i < value.Length;)
        {
            // The run of channels within one head is contiguous in the cache ([H, n, hd]).
            int c = c0 + i, h = c / hd, within = c - h * hd, run = Math.Min(hd - within, value.Length - i);
            int at = (h * n + e) * hd + within;
            if (_values is not null) value.Slice(i, run).CopyTo(_values.AsSpan(at, run));
            else BFloat16.Narrow(value.Slice(i, run), _values16.AsSpan(at, run));
            i += run;
        }
    }

    /// <summary>The value <c>[d]</c> (heads side by side) of slot <paramref name="e"/>, without marking the cache written
    /// (see <see cref="SetKeyUnmarked"/>).</summary>
    public void SetValueUnmarked(ReadOnlySpan<float> value, int heads, int e) => SetValueChannelsUnmarked(value[..Dim], 0, heads, e);

    /// <summary>One query of head <paramref name="h"/> over the first <c>scores.Length</c> slots
    /// (<see cref="AttentionKernels.Attend(ReadOnlySpan{float}, ReadOnlySpan{float}, int, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{float})"/>):
    /// a decode step's attention, reading a bfloat16 cache in place (widened in registers: half the bytes, no scratch pass).</summary>
    public void Attend(int h, int heads, ReadOnlySpan<float> q, Span<float> scores, Span<float> output, ReadOnlySpan<float> mask)
    {
        int hd = Dim / heads, n = Capacity;
        if (_keys is not null)
            AttentionKernels.Attend(q, _keys.AsSpan(h * hd * n, hd * n), n, _values.AsSpan(h * n * hd, n * hd), scores, output, mask);
        else if (_keys16 is not null)
            AttentionKernels.Attend<ushort, BFloat16Row>(q, _keys16.AsSpan(h * hd * n, hd * n), n, _values16.AsSpan(h * n * hd, n * hd), scores, output, mask);
        else
        {
            int keyLength = Int8CacheAttention.KeyLength(hd, n), valueLength = Int8CacheAttention.ValueLength(hd, n);
            Int8CacheAttention.Attend(q, _keys8.AsSpan(h * keyLength, keyLength), _keyScales.AsSpan(h * n, n), _values8.AsSpan(h * valueLength, valueLength),
                _valueScales.AsSpan(h * n, n), n, scores, output, mask, Scratch(ref t_weights, n + 1));
        }
    }

    /// <summary>Head <paramref name="h"/>'s keys <c>[hd, KeyStride]</c> and values <c>[slots, hd]</c> over (at least) the first
    /// <paramref name="slots"/> slots, as float32, with an int8 cache's scales. For bfloat16 and int8 the keys and values are
    /// the calling thread's scratch, valid until its next call here (on any cache).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public HeadView Head(int h, int heads, int slots)
    {
        int hd = Dim / heads, n = Capacity;
        if (_keys is not null)
            return new HeadView(_keys.AsSpan(h * hd * n, hd * n), n, _values.AsSpan(h * n * hd, n * hd));
        if (slots < 1 || slots > n) throw new ArgumentOutOfRangeException(nameof(slots), slots, $"1..{n} slots.");
        if (t_owner != _id || t_head != h || t_version != _version || t_slots < slots)
        {
            // Sized for the whole capacity at once, so a growing context does not reallocate.
            var keys = Scratch(ref t_keys, hd * n);
            var values = Scratch(ref t_values, n * hd);
            if (_keys16 is not null)
            {
                for (int c = 0; c < hd; c++) BFloat16.Widen(_keys16.AsSpan((h * hd + c) * n, slots), keys.AsSpan(c * slots, slots));
                BFloat16.Widen(_values16.AsSpan(h * n * hd, slots * hd), values);
            }
            else
            {
                // Only to read an int8 cache back (its attention reads the integers in place): scalar is fine.
                var keys8 = _keys8.AsSpan(h * Int8CacheAttention.KeyLength(hd, n));
                var values8 = _values8.AsSpan(h * Int8CacheAttention.ValueLength(hd, n));
                for (int c = 0; c < hd; c++)
                    for (int u = 0; u < slots; u++)
                        (keys[c * slots + u], values[u * hd + c]) = (keys8[Int8CacheAttention.KeyIndex(c, u, n)], values8[Int8CacheAttention.ValueIndex(u, c, hd)]);
            }
            (t_owner, t_head, t_version, t_slots) = (_id, h, _version, slots);
        }
        int stride = t_slots;
        return _keyScales is null
            ? new HeadView(t_keys.AsSpan(0, hd * stride), stride, t_values.AsSpan(0, stride * hd))
            : new HeadView(t_keys.AsSpan(0, hd * stride), stride, t_values.AsSpan(0, stride * hd), _keyScales.AsSpan(h * n, stride), _valueScales.AsSpan(h * n, stride));
    }

    /// <summary>A head's cache as float32: transposed keys with their row stride, and row-major values; for an int8 cache
    /// the integers, with each slot's key and value scale.</summary>
    public readonly ref struct HeadView(Span<float> keys, int keyStride, Span<float> values, ReadOnlySpan<float> keyScales = default, ReadOnlySpan<float> valueScales = default)
    {
        /// <summary><c>[hd, KeyStride]</c>.</summary>
        public ReadOnlySpan<float> Keys { get; } = keys;
        /// <summary>Floats from one key row (channel) to the next.</summary>
        public int KeyStride { get; } = keyStride;
        /// <summary><c>[slots, hd]</c>.</summary>
        public ReadOnlySpan<float> Values { get; } = values;
        /// <summary><c>[slots]</c> for an int8 cache (key u is <c>KeyScales[u]</c> times its column), else empty.</summary>
        public ReadOnlySpan<float> KeyScales { get; } = keyScales;
        /// <summary><c>[slots]</c> for an int8 cache, else empty.</summary>
        public ReadOnlySpan<float> ValueScales { get; } = valueScales;
    }

    // Per-thread scratch: the widened head (which cache, head, version and length it holds) and a prefill's transposed keys.
    [ThreadStatic] private static float[]? t_keys, t_values, t_transposed;
    [ThreadStatic] private static short[]? t_weights;   // an int8 attention's integer weights
    [ThreadStatic] private static long t_owner;
    [ThreadStatic] private static int t_head, t_version, t_slots;

    /// <summary>The thread's buffer, grown to <paramref name="length"/> (once per size: decode allocates nothing after warm-up).</summary>
    private static T[] Scratch<T>(ref T[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = new T[length];
        return buffer;
    }
}
