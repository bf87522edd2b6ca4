using System.Runtime.CompilerServices;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// The attention of T new tokens of one ordinary block (a prefill or a decode step; also the shortcut block's decode
/// step over a long memory), one item per (head, block of four tokens), on the calling thread alone or shared
/// with the helper thread through <see cref="RowParallel"/> like the rows of a Linear:
/// <code>
/// item i = h * B + b, B = ceil(T / 4):   o[t, h] = softmax_u(q[t, h] . k_h[u], u &lt;= p0 + t) v_h[u],  t in 4b..4b+3
/// </code>
/// (queries already scaled by 1/sqrt(hd)). Head-major items give each thread a run of heads, so a head's keys and
/// values stay in its L2 across the token blocks. A full block runs <see cref="QueryBlockAttention"/>; a partial last
/// block, a head width that kernel does not support, or an int8 cache, runs <see cref="LayerCache.Attend"/> per token. Both
/// give the same bits, so the outputs are identical to token-by-token decode whichever thread computes them. Each
/// thread has its own score scratch (<c>[4, n]</c>, allocated once per thread).
/// </summary>
internal static unsafe class ParallelAttention
{
    [ThreadStatic] private static float[]? t_scores;

    /// <summary>Cached floats (keys plus values, per layer) from which a decode step's heads are shared with the helper
    /// thread: 2 x 2^16 floats = 512 KiB, beyond L2, where one thread's attention waits on memory (late tokens of the
    /// 85M model ran at 0.63-0.69x the speed of early ones). Below it a hand-off costs more than it saves.</summary>
    public const long SharedDecodeCacheFloats = 2L << 16;

    /// <summary>Whether a decode step attending over <paramref name="positions"/> cached positions (or shortcut entries)
    /// of width <paramref name="d"/> should share its heads with the helper thread: only when the cache is cold at each
    /// visit, because the model's weights stream through the caches every token (<paramref name="weightsStream"/>,
    /// <see cref="RunState.WeightsStream"/>), and large. A cache that stays in the caller's L2 and L3 (a resident model) is
    /// read faster by the caller alone than half by a helper that must first fetch it from the other core: on the Zen 2 VM
    /// the d256 shortcut block's 480 entries took 20-21 us alone against 23-37 us shared (int8 cache), 39-42 against
    /// 44-51 (float32), while the 25M model's took 90-95 us alone and 75-77 shared (docs/BENCHMARKS.md, "Fifteenth
    /// session").</summary>
    public static bool WorthSharing(int positions, int d, bool weightsStream) =>
        weightsStream && 2L * positions * d >= SharedDecodeCacheFloats;

    private struct Job
    {
        public LayerCache Cache;
        public float* Qkv, Output, Mask;
        public int D, Hd, Heads, Blocks, T, P0, MaskLength;
    }

    /// <summary>Runs the items of one block: on both threads when <paramref name="parallel"/> is given, else on this one.
    /// <paramref name="qkv"/> <c>[T, 3d]</c> with scaled queries, <paramref name="cache"/> the block's keys and values,
    /// <paramref name="output"/> <c>[T, d]</c>, <paramref name="keyMask"/> <c>[n]</c> or empty. Positions p0..p0+T-1 must
    /// already be in the cache.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(RowParallel? parallel, ReadOnlySpan<float> qkv, LayerCache cache, Span<float> output,
        ReadOnlySpan<float> keyMask, int T, int heads, int p0)
    {
        int d = output.Length / T, blocks = (T + QueryBlockAttention.Queries - 1) / QueryBlockAttention.Queries;
        fixed (float* q = qkv) fixed (float* o = output) fixed (float* m = keyMask)
        {
            // The job lives on this stack frame until Run returns (the GC keeps reporting its cache reference; the helper
            // only reads it while this thread waits inside Run).
            var job = new Job
            {
                Cache = cache, Qkv = q, Output = o, Mask = m, MaskLength = keyMask.Length,
                D = d, Hd = d / heads, Heads = heads, Blocks = blocks, T = T, P0 = p0,
            };
            void* context = Unsafe.AsPointer(ref job);
            if (parallel is null) Items(context, 0, heads * blocks);
            else if (T >= TokenParallel.MinSharedTokens && blocks >= 2) parallel.RunHalves(&BlockRange, context, blocks, BalancedSplit(T, p0));
            else parallel.Run(&Items, context, heads * blocks, rowAlignment: 1);
        }
    }

    /// <summary>
    /// The query block that starts the helper's half of a prefill chunk's attention: the split that best balances the two
    /// threads' multiply-adds (query t attends over p0 + t + 1 positions, so later blocks cost more). Why not the chunk's
    /// token split (<see cref="TokenParallel.Split"/>): at p0 = 0 the helper's half would cost three times the caller's,
    /// and the caller's wait would count as a stall. The outputs of the few tokens between the two splits are the only ones
    /// written by the thread that does not own their rows.
    /// </summary>
    public static int BalancedSplit(int T, int p0)
    {
        int queries = QueryBlockAttention.Queries, blocks = (T + queries - 1) / queries;
        if (blocks < 2) throw new ArgumentOutOfRangeException(nameof(T), T, "Splitting needs two query blocks.");
        // cost(t < u) = sum over t of (p0 + t + 1) = u p0 + u (u + 1) / 2; the split is the block edge nearest half the total.
        static long Cost(int u, int p0) => (long)u * p0 + (long)u * (u + 1) / 2;
        long half = Cost(T, p0) / 2;
        int best = 1;
        for (int b = 1; b < blocks; b++)
            if (Math.Abs(Cost(b * queries, p0) - half) < Math.Abs(Cost(best * queries, p0) - half)) best = b;
        return best;
    }

    /// <summary>Query blocks <paramref name="b0"/>..<paramref name="b1"/>-1 of every head.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BlockRange(void* context, int b0, int b1)
    {
        ref Job j = ref Unsafe.AsRef<Job>(context);
        for (int h = 0; h < j.Heads; h++) Items(context, h * j.Blocks + b0, h * j.Blocks + b1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Items(void* context, int start, int end)
    {
        ref Job j = ref Unsafe.AsRef<Job>(context);
        int d = j.D, hd = j.Hd, n = j.Cache.Capacity, queries = QueryBlockAttention.Queries;
        var scratch = t_scores ??= new float[queries * n];
        if (scratch.Length < queries * n) scratch = t_scores = new float[queries * n];
        // An int8 cache attends each query in place with Int8CacheAttention's exact integer chains, decode's bits (a float32
        // query block over a widened head would give others; an int8 query block was slower on Zen 2: docs/BENCHMARKS.md,
        // "Thirteenth session").
        bool blocked = QueryBlockAttention.Supports(hd) && j.Cache.Precision != KeyValueCachePrecision.Int8;
        for (int i = start; i < end; i++)
        {
            int h = i / j.Blocks, t0 = i % j.Blocks * queries, length0 = j.P0 + t0 + 1;
            var mask = j.MaskLength == 0 ? default : new ReadOnlySpan<float>(j.Mask, j.MaskLength);
            if (blocked && t0 + queries <= j.T)
            {
                // Every position this call's queries see (a bfloat16 cache widens them once per head and thread).
                var head = j.Cache.Head(h, j.Heads, j.P0 + j.T);
                var q = new ReadOnlySpan<float>(j.Qkv + (long)t0 * 3 * d + h * hd, 3 * 3 * d + hd);
                var o = new Span<float>(j.Output + (long)t0 * d + h * hd, 3 * d + hd);
                QueryBlockAttention.Attend(q, 3 * d, hd, head.Keys, head.KeyStride, head.Values, length0, scratch, o, d, mask);
                continue;
            }
            for (int t = t0; t < Math.Min(t0 + queries, j.T); t++)
            {
                int positions = j.P0 + t + 1;
                var q = new ReadOnlySpan<float>(j.Qkv + (long)t * 3 * d + h * hd, hd);
                var o = new Span<float>(j.Output + (long)t * d + h * hd, hd);
                j.Cache.Attend(h, j.Heads, q, scratch.AsSpan(0, positions), o, mask.IsEmpty ? default : mask[..positions]);
            }
        }
    }
}
