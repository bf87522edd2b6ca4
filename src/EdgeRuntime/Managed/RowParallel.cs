using System.Runtime.CompilerServices;
namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// Shares one row-range job between the calling thread and one persistent helper thread without
/// allocating per call. A job is an unmanaged function pointer plus a pointer to a context struct on
/// the caller's stack (the caller returns only when every row is done, so the pointer stays valid).
/// The rows are cut into chunks (about 8 for <see cref="Run"/>, two halves for <see cref="RunHalves"/>) that both
/// threads claim with an atomic compare-and-swap, so the split adapts: if the helper is descheduled or asleep (an
/// oversubscribed machine), the caller simply does more of the chunks and waits at most for one chunk in flight. Between jobs the helper blocks on a semaphore
/// (which spins only briefly itself), so an idle sequence costs no CPU. It used to spin 200 us for the
/// next job first, since decode issues one every few microseconds; on a Zen 5 that bought nothing on an
/// idle machine (decode and prefill within noise, 1.3M-88M parameters), and with one other busy process it
/// took the caller's CPU: two-thread decode ran at 0.45-0.78x of one thread, against 0.87-1.15x without the
/// spin (docs/BENCHMARKS.md, "One busy core, literally"). A prefill is different: its jobs come back to back, so
/// during one (<see cref="BeginBurst"/>) the helper waits awake, for at most <see cref="BurstSpinTicks"/> per gap.
/// <para>
/// A busy machine (issue 13): when the helper is descheduled in the middle of a chunk, the caller has to wait
/// for that chunk until the scheduler runs the helper again, often far longer than the job. Measured at load
/// average ~12 on 2 cores, that made two-thread decode 2-3x slower than one thread. So the caller times its
/// wait: a wait longer than its own share of the work (and than <see cref="StallTicks"/>) is a stall (but not in the first job
/// after an idle pause, <see cref="ColdGapTicks"/>, when a helper core that sat idle runs slowly), after which the jobs run on the caller alone for a
/// while (<see cref="SoloTicksAfterStall"/>, doubling while stalls repeat, up to 64 times that), and then the helper is
/// tried again. The stretch is wall time, not a job count: 64 jobs were one decode token but a sixth of a prefill, whose
/// jobs are a thousand times longer, and a single scheduler hiccup on an idle machine cost a prefill 13%. On an idle
/// machine the helper answers within microseconds and nothing changes. Results are identical either way (every row
/// is computed by the same code whichever thread runs it).
/// </para>
/// <para>
/// The other way two threads lose on a busy machine: Linux schedules each session as a group (autogroup), so a
/// helper that spun between jobs took CPU from its own caller whenever the group got less than two cores (it no longer spins);
/// measured at load ~10 on 2 cores, two-thread decode ran at 0.4-0.8x of one thread without a single stall.
/// So every <see cref="ContentionWindowJobs"/> jobs the caller also reads how long it waited runnable
/// (<see cref="RunQueueWait"/>): waiting more than <see cref="ContendedWaitShare"/> of the window's wall time
/// means the cores are oversubscribed, and it goes solo the same way. So does a window in which the helper ran less than
/// <see cref="MinHelperShare"/> of the chunks: it woke too late to help (another process had its core), and its wakes
/// only cost system calls.
/// </para>
/// <para>
/// Where the helper wakes: after an idle pause the kernel often woke it on its caller's CPU, so a helper that slept over
/// a millisecond is woken restricted to the other CPUs (RowParallel.Placement.cs, <see cref="CpuPlacement"/>).
/// </para>
/// </summary>
internal sealed unsafe partial class RowParallel : IDisposable
{
    private readonly Thread _helper;
    private readonly SemaphoreSlim _wake = new(0);
    // The fields both threads touch sit on four cache lines, each written by one side as far as possible: on this VM the two
    // threads may run on different core complexes, where every line that moves between them costs ~220 ns (ManagedBench
    // handoff), and a decode job is a few microseconds.
    private PostedJob _post;           // written by the caller only (the job, its ticket, the burst flag)
    private ClaimLine _claims;         // both threads claim chunks here
    private HelperLine _done;          // written by the helper only: how far it got
    private SleepLine _sleep;          // written by the helper only when it blocks: read by the caller at every post
    private const long Closed = 0xFFFF_FFFFL;
    private Exception? _failure;       // a helper-side exception, rethrown on the caller

    /// <summary>The current job; written by the caller only while no chunk of it can be claimed (see <see cref="ClaimLine"/>).
    /// Offsets leave 64 bytes before and after the fields (no other field shares their cache line, whatever the alignment).</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 176)]
    private struct PostedJob
    {
        [System.Runtime.InteropServices.FieldOffset(64)] public delegate*<void*, int, int, void> Job;
        [System.Runtime.InteropServices.FieldOffset(72)] public void* Context;
        [System.Runtime.InteropServices.FieldOffset(80)] public int Rows;
        [System.Runtime.InteropServices.FieldOffset(84)] public int ChunkRows;
        [System.Runtime.InteropServices.FieldOffset(88)] public int Chunks;
        [System.Runtime.InteropServices.FieldOffset(92)] public int Split;     // > 0: two halves, 0..Split-1 and Split..Rows-1
        [System.Runtime.InteropServices.FieldOffset(96)] public int Posted;    // tickets posted
        [System.Runtime.InteropServices.FieldOffset(100)] public int Burst;    // 1 while a burst of jobs runs (a prefill): the helper spins between jobs
        [System.Runtime.InteropServices.FieldOffset(104)] public int Disposed;
    }

    /// <summary>(ticket &lt;&lt; 32) | bit mask of the claimed chunks (at most 8 of them). A claim is a CAS that succeeds only
    /// for the current ticket and an unclaimed chunk; the caller "closes" a finished job (every bit set) before it rewrites
    /// the job, so a late helper can never run a chunk with stale fields.</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 136)]
    private struct ClaimLine
    {
        [System.Runtime.InteropServices.FieldOffset(64)] public long Claim;
    }

    /// <summary>(ticket &lt;&lt; 32) | chunks of that ticket the helper has finished, and its running total. The caller knows
    /// how many chunks it ran itself, so it waits for this count alone (no shared counter both threads increment).</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 140)]
    private struct HelperLine
    {
        [System.Runtime.InteropServices.FieldOffset(64)] public long Finished;
        [System.Runtime.InteropServices.FieldOffset(72)] public int TotalChunks;
    }

    /// <summary>1 while the helper blocks (or is about to) on the semaphore, and since when.</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 144)]
    private struct SleepLine
    {
        [System.Runtime.InteropServices.FieldOffset(64)] public int Sleeping;
        [System.Runtime.InteropServices.FieldOffset(72)] public long SleptAt;   // when the helper last announced a sleep
    }

    private readonly long _soloTicks;

    /// <summary>Starts the helper thread (a background thread: it never keeps the process alive).
    /// <paramref name="soloTicksAfterStall"/> overrides <see cref="SoloTicksAfterStall"/> (tests use a longer stretch,
    /// so that a slow test host cannot let it run out unseen).</summary>
    public RowParallel(long soloTicksAfterStall = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(soloTicksAfterStall);
        _soloTicks = soloTicksAfterStall == 0 ? SoloTicksAfterStall : soloTicksAfterStall;
        _helper = new Thread(HelperLoop) { IsBackground = true, Name = "EdgeShortcut managed engine helper" };
        _helper.Start();
    }

    /// <summary>
    /// Runs <c>job(context, start, end)</c> over row chunks covering <c>0..rows-1</c> on both threads and
    /// returns when all are done. Chunks are multiples of <paramref name="rowAlignment"/> rows (16: the int8 kernels'
    /// row groups; 1 for independent items such as attention heads), at least two of them, about 8 chunks per job.
    /// </summary>
    public void Run(delegate*<void*, int, int, void> job, void* context, int rows, int rowAlignment = 16)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rowAlignment, 1);
        int chunkRows = Math.Max(2 * rowAlignment, (rows / 8 + rowAlignment - 1) / rowAlignment * rowAlignment);
        Post(job, context, rows, chunkRows, split: 0);
    }

    /// <summary>
    /// Runs <c>job(context, 0, split)</c> on the calling thread and <c>job(context, split, rows)</c> on the helper, and
    /// returns when both are done. A thread that finishes its own half takes the other one if it has not started (a
    /// descheduled helper costs no more than with <see cref="Run"/>).
    /// <para>Why halves: a prefill's token rows stay with one thread from op to op (the caller the first ones, the helper
    /// the rest), so neither reads what the other just wrote. On this VM the two vCPUs can sit on different core
    /// complexes, where a cache line written by one thread reaches the other in ~220 ns (ManagedBench <c>handoff</c>);
    /// with chunks claimed in any order every op's output crossed over, and a two-thread d256 prefill ran no faster than
    /// one thread (docs/BENCHMARKS.md, eighth session).</para>
    /// </summary>
    public void RunHalves(delegate*<void*, int, int, void> job, void* context, int rows, int split)
    {
        if (split < 1 || split >= rows) throw new ArgumentOutOfRangeException(nameof(split), split, $"The split must leave rows on both sides of 0..{rows}.");
        Post(job, context, rows, chunkRows: 0, split);
    }

    /// <summary>Posts a job (<paramref name="split"/> &gt; 0: two halves, else chunks of <paramref name="chunkRows"/>), runs
    /// chunks of it until none is left, waits for the helper's, and watches for stalls and contention.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Post(delegate*<void*, int, int, void> job, void* context, int rows, int chunkRows, int split)
    {
        ObjectDisposedException.ThrowIf(_post.Disposed != 0, this);
        if (InSoloStretch)
        {
            Interlocked.Increment(ref _soloRuns);
            job(context, 0, rows);
            return;
        }
        _twoThreadJobs++;
        int ticket = _post.Posted + 1, chunks = split > 0 ? 2 : (rows + chunkRows - 1) / chunkRows;
        _post.Job = job;
        _post.Context = context;
        _post.Rows = rows;
        _post.Split = split;
        _post.ChunkRows = chunkRows;
        _post.Chunks = chunks;
        Volatile.Write(ref _claims.Claim, (long)ticket << 32);
        // Full fence: publishes the fields above and orders this store before the Sleeping load; the
        // helper does the mirror image, so one of the two always sees the other.
        Interlocked.Exchange(ref _post.Posted, ticket);
        if (Volatile.Read(ref _sleep.Sleeping) == 1) WakeHelper();
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        int ran = RunChunks(ticket, isHelper: false);
        long ownDone = System.Diagnostics.Stopwatch.GetTimestamp();
        if (ran < chunks)
        {
            // The helper ran the rest: wait until it reports them finished for this ticket.
            long finished = ((long)ticket << 32) | (uint)(chunks - ran);
            var spin = new SpinWait();
            while (Volatile.Read(ref _done.Finished) != finished) spin.SpinOnce(sleep1Threshold: -1);
        }
        Volatile.Write(ref _claims.Claim, ((long)ticket << 32) | Closed);   // close the job
        long end = System.Diagnostics.Stopwatch.GetTimestamp();
        DecideSolo(ownTicks: ownDone - start, waited: end - ownDone, coldStart: start - _lastTwoThreadEnd > ColdGapTicks);
        _lastTwoThreadEnd = end;
        if (_failure is { } failure)
        {
            _failure = null;
            throw new InvalidOperationException("The managed engine's helper thread failed.", failure);
        }
    }

    /// <summary>Claims and runs chunks of job <paramref name="ticket"/> until none is left (both threads run this) and
    /// returns how many it ran; the helper reports each finished chunk in <see cref="HelperLine"/>.
    /// The job fields are read after an acquire of an open <see cref="ClaimLine.Claim"/> for this ticket, and the
    /// CAS then proves the job was still open, so the fields used are exactly this job's. The caller takes the lowest
    /// unclaimed chunk and the helper the highest (of halves, the second), so from job to job each thread keeps nearly the
    /// same rows: when the two threads sit on different core complexes, a model that fits in L3 (d512, 25 MB) then keeps
    /// each thread's rows in its own L3 instead of moving them across (decode 1512-1622 -> 1841-1902 tokens/s at d512).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int RunChunks(int ticket, bool isHelper)
    {
        int ran = 0;
        while (true)
        {
            long c = Volatile.Read(ref _claims.Claim);
            if ((int)(c >> 32) != ticket) return ran;
            var job = _post.Job;
            void* context = _post.Context;
            int rows = _post.Rows, chunkRows = _post.ChunkRows, chunks = _post.Chunks, split = _post.Split;
            uint free = ~(uint)c & ((1u << chunks) - 1);
            if (free == 0) return ran;
            int index = isHelper ? 31 - System.Numerics.BitOperations.LeadingZeroCount(free) : System.Numerics.BitOperations.TrailingZeroCount(free);
            if (Interlocked.CompareExchange(ref _claims.Claim, c | (1L << index), c) != c) continue;
            ran++;
            int start = split > 0 ? (index == 0 ? 0 : split) : index * chunkRows;
            int end = split > 0 ? (index == 0 ? split : rows) : Math.Min(rows, start + chunkRows);
            try { job(context, start, end); }
            catch (Exception e) { _failure = e; }
            if (isHelper)
            {
                Volatile.Write(ref _done.TotalChunks, _done.TotalChunks + 1);
                Volatile.Write(ref _done.Finished, ((long)ticket << 32) | (uint)ran);   // after the job's writes (release)
            }
        }
    }

    /// <summary>A helper in a burst spins at most this long for the next job before it sleeps anyway (a burst whose
    /// caller stopped posting jobs costs no more than this).</summary>
    public static readonly long BurstSpinTicks = System.Diagnostics.Stopwatch.Frequency / 1000;   // 1 ms

    /// <summary>
    /// Starts a burst: until <see cref="EndBurst"/>, the helper waits for the next job awake (spinning, at most
    /// <see cref="BurstSpinTicks"/> per gap) instead of on the semaphore. A prefill posts a job every 50-500 us
    /// with serial work between them, and a sleeping helper takes 50-70 us to wake on this VM, so each job
    /// started on the caller alone. Decode stays outside bursts: with one other busy process a spinning helper took
    /// its caller's CPU (see the class remarks). A helper in a solo stretch does not spin either.
    /// </summary>
    public void BeginBurst()
    {
        ObjectDisposedException.ThrowIf(_post.Disposed != 0, this);
        Interlocked.Exchange(ref _post.Burst, 1);
        if (Volatile.Read(ref _sleep.Sleeping) == 1 && !InSoloStretch) WakeHelper();   // wakes while the caller embeds its tokens
    }

    /// <summary>Ends a burst (<see cref="BeginBurst"/>): the helper goes back to sleeping between jobs.</summary>
    public void EndBurst() => Volatile.Write(ref _post.Burst, 0);

    /// <summary>While a burst lasts, spins until a job after <paramref name="seen"/> is posted, for at most
    /// <see cref="BurstSpinTicks"/>.</summary>
    private void SpinForNextJob(int seen)
    {
        if (Volatile.Read(ref _post.Burst) == 0) return;
        long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + BurstSpinTicks;
        var spin = new SpinWait();
        while (Volatile.Read(ref _post.Posted) == seen && Volatile.Read(ref _post.Burst) == 1 && Volatile.Read(ref _post.Disposed) == 0 && !InSoloStretch &&
            System.Diagnostics.Stopwatch.GetTimestamp() < deadline)
            spin.SpinOnce(sleep1Threshold: -1);
    }

    private void HelperLoop()
    {
        // The placement's calls, once each on this thread (its own CPUs set to themselves): their first-call costs (the
        // libc lookup, the stubs' compilation) are paid here rather than in the caller's first placed wake, a prompt's start.
        var own = CpuPlacement.Affinity(0);
        if (CpuPlacement.Current() >= 0 && own is not null) CpuPlacement.Restore(own);
        Volatile.Write(ref _helperTid, CpuPlacement.ThreadId());
        int seen = 0;
        while (true)
        {
            SpinForNextJob(seen);   // in a burst, wait awake first: the sleep below is skipped when a job came meanwhile
            // Between decode jobs: spin as briefly as SemaphoreSlim.Wait would before blocking, but on the ticket itself. A job
            // posted meanwhile then needs no semaphore handshake (a lock both threads take, 0.4-0.5 us a job across core
            // complexes: ManagedBench handoff), and the caller sees no Sleeping flag to release.
            var brief = new SpinWait();
            while (Volatile.Read(ref _post.Posted) == seen && Volatile.Read(ref _post.Disposed) == 0 && !brief.NextSpinWillYield)
                brief.SpinOnce(sleep1Threshold: -1);
            while (Volatile.Read(ref _post.Posted) == seen && Volatile.Read(ref _post.Disposed) == 0)
            {
                // Announce the sleep, then re-check: a job posted in between is either seen here
                // or finds Sleeping set and releases the semaphore.
                Volatile.Write(ref _sleep.SleptAt, System.Diagnostics.Stopwatch.GetTimestamp());
                Interlocked.Exchange(ref _sleep.Sleeping, 1);
                if (Volatile.Read(ref _post.Posted) == seen && Volatile.Read(ref _post.Disposed) == 0)
                {
                    _wake.Wait();
                    TakeBackCpus();
                }
                Volatile.Write(ref _sleep.Sleeping, 0);
            }
            if (Volatile.Read(ref _post.Disposed) != 0) return;
            seen = Volatile.Read(ref _post.Posted);
            RunChunks(seen, isHelper: true);   // a stale ticket finds the job closed or replaced and returns at once
        }
    }

    /// <summary>Stops the helper thread.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _post.Disposed, 1) != 0) return;
        _wake.Release();
        _helper.Join();
        _wake.Dispose();
    }
}
