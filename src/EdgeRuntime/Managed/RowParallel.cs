namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// Splits one row-range job between the calling thread and one persistent helper thread, without
/// allocating per call. A job is an unmanaged function pointer plus a pointer to a context struct
/// on the caller's stack (the caller blocks until both halves are done, so the pointer stays valid).
/// The helper spins for a short while after each job, because decode issues a job every few
/// microseconds and a kernel wake-up costs more than the job; after the spin budget it blocks, so an
/// idle sequence costs no CPU.
/// </summary>
internal sealed unsafe class RowParallel : IDisposable
{
    /// <summary>How long the helper spins for the next job before it blocks.</summary>
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 5000;   // 200 us

    private readonly Thread _helper;
    private readonly SemaphoreSlim _wake = new(0);
    private delegate*<void*, int, int, void> _job;
    private void* _context;
    private int _start, _end;
    private int _posted;               // jobs posted; the helper runs each one once
    private volatile int _finished;    // jobs the helper has finished
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
    /// Runs <c>job(context, 0, split)</c> on the calling thread and <c>job(context, split, rows)</c> on the
    /// helper, and returns when both are done. <paramref name="split"/> should be a multiple of 4 so
    /// both halves keep the kernels' four-row blocks.
    /// </summary>
    public void Run(delegate*<void*, int, int, void> job, void* context, int split, int rows)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _job = job;
        _context = context;
        _start = split;
        _end = rows;
        int ticket = Volatile.Read(ref _posted) + 1;
        // Full fence (publishes the fields above and orders this store before the _sleeping load;
        // the helper does the mirror image, so one of the two always sees the other).
        Interlocked.Exchange(ref _posted, ticket);
        if (Volatile.Read(ref _sleeping) == 1) _wake.Release();
        job(context, 0, split);
        var spin = new SpinWait();
        while (_finished != ticket) spin.SpinOnce(sleep1Threshold: -1);
        if (_failure is { } failure)
        {
            _failure = null;
            throw new InvalidOperationException("The managed engine's helper thread failed.", failure);
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
            try { _job(_context, _start, _end); }
            catch (Exception e) { _failure = e; }
            _finished = seen;
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
