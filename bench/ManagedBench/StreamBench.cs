using System.Diagnostics;
using System.Runtime.Intrinsics;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// How fast a decode step's products stream a whole model's int8 weights, without attention, norms or anything else:
/// the L x {qkv, proj, fc, fc2} matrices of a d/L model applied to one token each, in order, on the engine's threads,
/// against a plain read of the same bytes in the same job structure (each matrix's rows split between the two threads,
/// one hand-off per matrix). The gap between the two is what the matvec path loses to the memory system.
/// </summary>
internal static class StreamBench
{
    public static void Run(int dim, int layers, int rounds, bool paired = false)
    {
        var rng = new Random(5);
        var shapes = new List<(int Rows, int Cols)>();
        for (int l = 0; l < layers; l++) shapes.AddRange([(3 * dim, dim), (dim, dim), (4 * dim, dim), (dim, 4 * dim)]);
        var linears = shapes.Select((s, i) =>
        {
            var w = new sbyte[s.Rows * s.Cols];
            for (int k = 0; k < w.Length; k++) w[k] = (sbyte)rng.Next(-127, 128);
            var linear = new Int8Linear($"m{i}", s.Rows, s.Cols, w, [.. Enumerable.Repeat(0.01f, s.Rows)], []);
            linear.Matrix.StreamsFromMemory = !paired;   // as the loader sets it for a model this large, unless --paired
            return linear;
        }).ToArray();
        long bytes = linears.Sum(l => (long)l.Matrix.Data.Length);
        // The prefetch hint as the loader sets it for a model of this many weight bytes (ManagedWeights); the products also
        // run with the other hint, to show what it is worth here.
        bool nonTemporal = bytes > PackedInt8Matrix.CacheResidentModelBytes;
        void Hint(bool value) { foreach (var l in linears) l.Matrix.PrefetchesNonTemporal = value; }
        var x = new float[4 * dim]; for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var y = new float[4 * dim];
        var scratch = new QuantizedActivations(1, 4 * dim);
        using var parallel = new RowParallel();
        Console.WriteLine($"stream d{dim} L{layers}: {bytes / 1e6:F1} MB of packed int8 weights per pass, 2 threads, {(paired ? "two row groups side by side" : "one row group at a time (streamed)")}, load {LoadAverage.Read()}");
        Console.WriteLine($"| round | products ms/pass ({(nonTemporal ? "prefetchnta" : "prefetcht0")}, as loaded) | GB/s | plain read ms/pass | GB/s | products / read | products with {(nonTemporal ? "prefetcht0" : "prefetchnta")} |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        for (int r = 0; r <= rounds; r++)
        {
            void Products() { foreach (var l in linears) l.Apply(x.AsSpan(0, l.Cols), y.AsSpan(0, l.Rows), 1, scratch, parallel); }
            Hint(!nonTemporal);
            double other = Time(Products);
            Hint(nonTemporal);
            double products = Time(Products);
            double read = Time(() => { foreach (var l in linears) ReadRows(parallel, l.Matrix); });
            s_nonTemporal = true;
            double readNta = Time(() => { foreach (var l in linears) ReadRows(parallel, l.Matrix); });
            s_nonTemporal = false;
            double halves = Time(() => { foreach (var l in linears) ReadHalves(parallel, l.Matrix); });
            double solo = Time(() => { foreach (var l in linears) ReadSolo(l.Matrix); });
            if (r == 0) continue;   // warm-up
            Console.WriteLine($"| {r} | {products * 1e3:F3} | {bytes / products / 1e9:F1} | {read * 1e3:F3} | {bytes / read / 1e9:F1} | {read / products:F2}x | {bytes / other / 1e9:F1} GB/s | halves {bytes / halves / 1e9:F1} GB/s | one thread {bytes / solo / 1e9:F1} GB/s | read as the matvec (4 streams, prefetchnta) {bytes / readNta / 1e9:F1} GB/s |");
        }
    }

    private static double Time(Action pass)
    {
        pass();
        var times = new double[9];
        for (int i = 0; i < times.Length; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            pass();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        Array.Sort(times);
        return times[times.Length / 2];
    }

    private static PackedInt8Matrix? s_matrix;
    private static long s_sink;
    private static bool s_nonTemporal;   // the read in the AVX2 int8 matvec's pattern: four streams, its prefetchnta at its distance

    private static unsafe void ReadRows(RowParallel parallel, PackedInt8Matrix m)
    {
        s_matrix = m;
        parallel.Run(&ReadJob, null, m.Groups * PackedInt8Matrix.GroupRows);
    }

    private static unsafe void ReadHalves(RowParallel parallel, PackedInt8Matrix m)
    {
        s_matrix = m;
        int rows = m.Groups * PackedInt8Matrix.GroupRows;
        parallel.RunHalves(&ReadJob, null, rows, rows / 16 * 8);
    }

    private static unsafe void ReadSolo(PackedInt8Matrix m)
    {
        s_matrix = m;
        ReadJob(null, 0, m.Groups * PackedInt8Matrix.GroupRows);
    }

    // Rows start..end-1 of the packed matrix: whole row groups, contiguous (PaddedCols bytes per row).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ReadJob(void* context, int start, int end)
    {
        var data = s_matrix!.Data;
        long from = (long)start * s_matrix.PaddedCols, to = (long)end * s_matrix.PaddedCols;
        Vector256<long> a = default, b = default, c = default, d = default;
        byte* p = data.Pointer;
        if (s_nonTemporal)
        {
            // As the AVX2 int8 matvec reads streamed weights: its rows' groups as four streams a quarter apart, 256-byte
            // blocks in turn, each prefetched with its hint and distance; the groups past the quarters as one stream.
            long groupBytes = (long)s_matrix.PaddedCols * PackedInt8Matrix.GroupRows, quarter = (to - from) / groupBytes / Int8MatVec.MemoryStreams * groupBytes;
            for (long i = from; i < from + quarter; i += 256)
                for (int k = 0; k < Int8MatVec.MemoryStreams; k++)
                {
                    Int8MatVec.PrefetchBlockNonTemporal(p + i + k * quarter + Int8MatVec.NonTemporalPrefetchBytes);
                    ReadBlock(p + i + k * quarter, ref a, ref b, ref c, ref d);
                }
            for (long i = from + Int8MatVec.MemoryStreams * quarter; i + 256 <= to; i += 256)
            {
                Int8MatVec.PrefetchBlockNonTemporal(p + i + Int8MatVec.NonTemporalPrefetchBytes);
                ReadBlock(p + i, ref a, ref b, ref c, ref d);
            }
        }
        else
        {
            for (long i = from; i + 256 <= to; i += 256) ReadBlock(p + i, ref a, ref b, ref c, ref d);
        }
        Interlocked.Add(ref s_sink, Vector256.Sum(a ^ b ^ c ^ d));
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static unsafe void ReadBlock(byte* block, ref Vector256<long> a, ref Vector256<long> b, ref Vector256<long> c, ref Vector256<long> d)
    {
        a ^= Vector256.Load((long*)block) ^ Vector256.Load((long*)(block + 32));
        b ^= Vector256.Load((long*)(block + 64)) ^ Vector256.Load((long*)(block + 96));
        c ^= Vector256.Load((long*)(block + 128)) ^ Vector256.Load((long*)(block + 160));
        d ^= Vector256.Load((long*)(block + 192)) ^ Vector256.Load((long*)(block + 224));
    }
}
