namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// Shares one row-range job between the calling thread and one persistent helper thread without
/// allocating per call. A job is an unmanaged function pointer plus a pointer to a context struct on
/// the caller's stack (the caller returns only when every row is done, so the pointer stays valid).
/// The rows are cut into chunks that both threads claim with an atomic counter, so the split adapts:
/// if the helper is descheduled or asleep (an oversubscribed machine), the caller simply does more of
/// the chunks and waits at most for one chunk in flight. The helper spins briefly after each job,
/// because decode issues a job every few microseconds and a kernel wake-up costs more than that; after
/// the spin budget it blocks, so an idle sequence costs no CPU.
/// </summary>
internal sealed unsafe class RowParallel : IDisposable
{
    /// <summary>How long the helper spins for the next job before it blocks.</summary>
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 5000;   // 200 us

    private readonly Thread _helper;
    private readonly SemaphoreSlim _wake = new(0);
    // The current job; written by the caller only while no chunk of it can be claimed (see _claim).
    private delegate*<void*, int, int, void> _job;
    private void* _context;
    private int _rows, _chunkRows, _chunks;
    // (ticket << 32) | next chunk index. A claim is a CAS that succeeds only for the current ticket
    // and an index below the chunk count; the caller "closes" a finished job (index = int.MaxValue)
    // before it rewrites the fields above, so a late helper can never run a chunk with stale fields.
    private long _claim;
    private int _done;                 // chunks of the current job finished
    private int _posted;               // tickets posted
    private int _sleeping;             // 1 while the helper blocks (or is about to) on _wake
    private volatile bool _disposed;
    private Exception? _failure;       // a helper-side exception, rethrown on the caller

    /// <summary>Starts the helper thread (a background thread: it never keeps the process alive).</summary>
    public RowParallel()
    {
        _helper = new Thread(HelperLoop) { IsBackground = true, Name = "EdgeShortcut managed engine helper" };
        _helper.Start();
    }

    /// <summary>
    /// Runs <c>job(context, start, end)</c> over row chunks covering <c>0..rows-1</c> on both threads and
    /// returns when all are done. Chunks are multiples of 16 rows (the int8 kernels' row groups), about 8 per job.
    /// </summary>
    public void Run(delegate*<void*, int, int, void> job, void* context, int rows)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int ticket = _posted + 1;
        _job = job;
        _context = context;
        _rows = rows;
        _chunkRows = Math.Max(32, (rows / 8 + 15) & ~15);
        _chunks = (rows + _chunkRows - 1) / _chunkRows;
        _done = 0;
        Volatile.Write(ref _claim, (long)ticket << 32);
        // Full fence: publishes the fields above and orders this store before the _sleeping load; the
        // helper does the mirror image, so one of the two always sees the other.
        Interlocked.Exchange(ref _posted, ticket);
        if (Volatile.Read(ref _sleeping) == 1) _wake.Release();
        RunChunks(ticket);
        var spin = new SpinWait();
        while (Volatile.Read(ref _done) != _chunks) spin.SpinOnce(sleep1Threshold: -1);
        Volatile.Write(ref _claim, ((long)ticket << 32) | int.MaxValue);   // close the job
        if (_failure is { } failure)
        {
            _failure = null;
            throw new InvalidOperationException("The managed engine's helper thread failed.", failure);
        }
    }

    /// <summary>Claims and runs chunks of job <paramref name="ticket"/> until none is left (both threads run this).
    /// The job fields are read after an acquire of an open <see cref="_claim"/> for this ticket, and the
    /// CAS then proves the job was still open, so the fields used are exactly this job's.</summary>
    private void RunChunks(int ticket)
    {
        while (true)
        {
            long c = Volatile.Read(ref _claim);
            if ((int)(c >> 32) != ticket) return;
            var job = _job;
            void* context = _context;
            int rows = _rows, chunkRows = _chunkRows, chunks = _chunks, index = (int)c;
            if (index >= chunks) return;
            if (Interlocked.CompareExchange(ref _claim, c + 1, c) != c) continue;
            int start = index * chunkRows;
            try { job(context, start, Math.Min(rows, start + chunkRows)); }
            catch (Exception e) { _failure = e; }
            Interlocked.Increment(ref _done);
        }
    }

    private void HelperLoop()
    {
        int seen = 0;
        while (true)
        {
            long spinUntil = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
            while (Volatile.Read(ref _posted) == seen && !_disposed)
            {
                if (System.Diagnostics.Stopwatch.GetTimestamp() < spinUntil) { Thread.SpinWait(20); continue; }
                // Announce the sleep, then re-check: a job posted in between is either seen here
                // or finds _sleeping set and releases the semaphore.
                Interlocked.Exchange(ref _sleeping, 1);
                if (Volatile.Read(ref _posted) == seen && !_disposed) _wake.Wait();
                Volatile.Write(ref _sleeping, 0);
                spinUntil = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
            }
            if (_disposed) return;
            seen = Volatile.Read(ref _posted);
            RunChunks(seen);   // a stale ticket finds the job closed or replaced and returns at once
        }
    }

    /// <summary>Stops the helper thread.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _wake.Release();
        _helper.Join();
        _wake.Dispose();
    }
}
