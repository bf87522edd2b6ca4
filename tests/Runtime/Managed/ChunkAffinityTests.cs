using System.Diagnostics;
using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>In a job of claimed chunks (a decode step's products and attention heads) the caller takes chunks from the
/// front and the helper from the back, so each thread keeps nearly the same rows from token to token: when the two threads
/// sit on different core complexes, a d512 model's weights then stay in each one's own L3 (ManagedBench busy-decode
/// --dim 512: two threads 1512-1622 -> 1841-1902 tokens/s, alternated three times).</summary>
public unsafe class ChunkAffinityTests
{
    private const int Chunks = 8, ChunkRows = 16, Rows = Chunks * ChunkRows;

    private static void RecordChunk(void* context, int start, int end)
    {
        var threads = (int*)context;
        // A job run solo (after a stall on a busy test host) is one call over every row: all of it is the caller's.
        for (int i = start / ChunkRows; i < end / ChunkRows; i++) threads[i] = Environment.CurrentManagedThreadId;
        // Long enough (~100 us) for the helper to join in before the caller has claimed every chunk.
        var until = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10_000;
        while (Stopwatch.GetTimestamp() < until) Thread.SpinWait(20);
    }

    [Fact]
    public void The_caller_takes_chunks_from_the_front_and_the_helper_from_the_back()
    {
        using var parallel = new RowParallel(soloTicksAfterStall: 1);
        int caller = Environment.CurrentManagedThreadId, shared = 0;
        var threads = stackalloc int[Chunks];
        for (int rep = 0; rep < 40; rep++)
        {
            for (int i = 0; i < Chunks; i++) threads[i] = 0;
            parallel.Run(&RecordChunk, threads, Rows, rowAlignment: 1);   // chunks of Rows / 8 = 16 rows
            int callerChunks = 0;
            while (callerChunks < Chunks && threads[callerChunks] == caller) callerChunks++;
            for (int i = callerChunks; i < Chunks; i++)
                Assert.True(threads[i] != caller && threads[i] != 0, $"rep {rep}: chunk {i} ran on the caller after a helper chunk ({string.Join(",", Enumerable.Range(0, Chunks).Select(k => threads[k] == caller ? "c" : "h"))})");
            if (callerChunks < Chunks) shared++;
        }
        Assert.True(shared > 0, "the helper never took a chunk");
    }
}
