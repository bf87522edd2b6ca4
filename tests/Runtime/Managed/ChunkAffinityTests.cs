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

    private struct Record
    {
        public fixed int Threads[Chunks];
        public volatile int OthersStarted;
    }

    private static void RecordChunk(void* context, int start, int end)
    {
        var r = (Record*)context;
        // A job run solo (after a stall on a busy test host) is one call over every row: all of it is the caller's.
        for (int i = start / ChunkRows; i < end / ChunkRows; i++) r->Threads[i] = Environment.CurrentManagedThreadId;
        if (start != 0)
        {
            r->OthersStarted = 1;
            // ~20 us of work, so the caller comes back for more chunks while the helper still has some to take.
            var done = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 50_000;
            while (Stopwatch.GetTimestamp() < done) Thread.SpinWait(20);
            return;
        }
        // The first chunk waits (bounded) until another has started, so the helper claims while the caller holds chunk 0:
        // which chunk it takes is then the rule under test, not a matter of timing.
        var until = Stopwatch.GetTimestamp() + 10 * Stopwatch.Frequency;
        while (end - start == ChunkRows && r->OthersStarted == 0 && Stopwatch.GetTimestamp() < until) Thread.SpinWait(20);
    }

    [Fact]
    public void The_caller_takes_chunks_from_the_front_and_the_helper_from_the_back()
    {
        using var parallel = new RowParallel(soloTicksAfterStall: 1);
        int caller = Environment.CurrentManagedThreadId, shared = 0;
        var record = new Record();
        for (int rep = 0; rep < 20; rep++)
        {
            record = new Record();
            parallel.Run(&RecordChunk, &record, Rows, rowAlignment: 1);   // chunks of Rows / 8 = 16 rows
            int callerChunks = 0;
            while (callerChunks < Chunks && record.Threads[callerChunks] == caller) callerChunks++;
            var threads = new int[Chunks];
            for (int k = 0; k < Chunks; k++) threads[k] = record.Threads[k];
            string pattern = string.Join(",", threads.Select(t => t == caller ? "c" : "h"));
            for (int i = callerChunks; i < Chunks; i++)
                Assert.True(record.Threads[i] != caller && record.Threads[i] != 0, $"rep {rep}: chunk {i} ran on the caller after a helper chunk ({pattern})");
            if (callerChunks < Chunks) shared++;
        }
        Assert.True(shared > 0, "the helper never took a chunk");
    }
}
