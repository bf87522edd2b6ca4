namespace EdgeShortcut.Runtime.Managed;

// When RowParallel leaves the helper out (see the class remarks in RowParallel.cs): after a stall, on a contended
// machine, and when the helper came too late to help; and the counters that show it.
internal sealed unsafe partial class RowParallel
{
    /// <summary>A wait for the helper longer than this and than the caller's own share of the job is a stall. On an
    /// idle machine the caller waits for at most the one chunk in flight, about a quarter of its share. The floor keeps
    /// late wake-ups from counting: a descheduled helper costs a scheduler time slice (milliseconds), while a helper
    /// that started a 20-50 us half of a prefill job 30-300 us late (a wake from its semaphore) is no reason to leave it
    /// out for the next 2 ms; with a floor of 20 us such jobs counted as stalls several times per 85M prefill.</summary>
    public static readonly long StallTicks = System.Diagnostics.Stopwatch.Frequency / 2_000;   // 500 us

    /// <summary>A two-thread job posted this long after the previous one ended is a cold start, and its wait is no stall: a
    /// helper core that sat idle for tens of milliseconds runs its first ~2 ms at about half speed. Measured on a Zen 2 VM
    /// (docs/BENCHMARKS.md, "Twelfth session"): the first job of each 256-token prefill after a 50 ms pause took the helper
    /// 2.2-2.3 ms for a half that took the caller 1.0-1.1 ms (and the helper itself 1.05 ms in the next layers); counted as a
    /// stall, it sent every float32-activation prefill of `ManagedBench prefill` solo (two threads 0.98x of one). A real
    /// stall repeats on the next jobs, which are back to back, so it is still caught.</summary>
    public static readonly long ColdGapTicks = System.Diagnostics.Stopwatch.Frequency / 100;   // 10 ms

    /// <summary>How long jobs run on the caller alone after a first stall: a few tokens of a small model's decode,
    /// a quarter token of an 85M one, two 32-token prefill layers.</summary>
    public static readonly long SoloTicksAfterStall = System.Diagnostics.Stopwatch.Frequency / 500;   // 2 ms

    /// <summary>Two-thread jobs per contention check (a few tokens of a small model, about one of a large one): short, so
    /// that re-trying two threads on a busy machine costs little.</summary>
    public const int ContentionWindowJobs = 64;

    /// <summary>Share of a window's wall time the caller may wait on the run queue before the machine counts as busy.</summary>
    public const double ContendedWaitShare = 0.2;

    /// <summary>Share of a window's chunks the helper must run for waking it to be worth it. With one other busy process the
    /// helper ran 1.4% of the chunks of an 85M decode (the caller had finished a job before the helper got a core), and
    /// each wake still cost a system call: two threads decoded at 0.86x of one. On an idle machine it runs 35-50%.</summary>
    public const double MinHelperShare = 0.1;

    private int _windowJobs;           // two-thread jobs since the window opened
    private int _windowThread;         // the managed thread that opened it (a sequence may move between threads)
    private long _windowStart, _windowWait;
    private int _windowChunks, _windowHelperChunks;   // chunks posted in the window; the helper's count when it opened

    private long _soloUntil;           // timestamp until which jobs run without the helper
    private long _lastTwoThreadEnd;    // when the last two-thread job ended (0: none yet, so the first job is a cold start)
    private int _stallStreak;          // stalls in a row (the solo stretch doubles with each, up to 2^6)

    /// <summary>After a two-thread job: counts a stall (a wait of <paramref name="waited"/> ticks for the helper, longer
    /// than <see cref="StallTicks"/> and than the caller's own <paramref name="ownTicks"/>, unless the job was a
    /// <paramref name="coldStart"/>, <see cref="ColdGapTicks"/>) and a contended window, and after
    /// either one starts a solo stretch (2 ms, doubling while they repeat, up to 64 times that).</summary>
    private void DecideSolo(long ownTicks, long waited, bool coldStart)
    {
        bool stalled = !coldStart && waited > StallTicks && waited > ownTicks;
        if (stalled) Interlocked.Increment(ref _stalls);
        if (WindowShowsContention() || stalled)
        {
            _soloUntil = System.Diagnostics.Stopwatch.GetTimestamp() + (_soloTicks << Math.Min(_stallStreak, 6));
            _stallStreak++;
            _windowJobs = 0;
        }
    }

    /// <summary>Counts a two-thread job into the contention window; at the window's end, whether the caller waited on the
    /// run queue for more than <see cref="ContendedWaitShare"/> of it, or the helper ran less than <see cref="MinHelperShare"/>
    /// of its chunks. Opens the next window.</summary>
    private bool WindowShowsContention()
    {
        int thread = Environment.CurrentManagedThreadId;
        _windowChunks += _post.Chunks;
        if (_windowJobs > 0 && thread == _windowThread && ++_windowJobs < ContentionWindowJobs) return false;
        long now = System.Diagnostics.Stopwatch.GetTimestamp(), wait = RunQueueWait.Nanoseconds();
        bool complete = _windowJobs >= ContentionWindowJobs && thread == _windowThread;
        bool waited = complete && wait >= 0 && _windowWait >= 0 &&
            (wait - _windowWait) * 1e-9 > ContendedWaitShare * (now - _windowStart) / System.Diagnostics.Stopwatch.Frequency;
        int helperChunks = Volatile.Read(ref _done.TotalChunks);
        bool helperIdle = complete && HelperWasIdle(helperChunks - _windowHelperChunks, _windowChunks);
        bool contended = waited || helperIdle;
        bool completedCalm = !contended && complete && wait >= 0;
        _windowThread = thread;
        _windowStart = now;
        _windowWait = wait;
        _windowJobs = 1;
        _windowChunks = 0;
        _windowHelperChunks = helperChunks;
        if (waited) Interlocked.Increment(ref _contendedWindows);
        if (helperIdle) Interlocked.Increment(ref _idleHelperWindows);
        if (completedCalm) _stallStreak = 0;   // a whole window on two threads went well
        return contended;
    }

    /// <summary>Whether a helper that ran <paramref name="helperChunks"/> of a window's <paramref name="windowChunks"/> chunks
    /// was too late to be worth waking (less than <see cref="MinHelperShare"/> of them).</summary>
    public static bool HelperWasIdle(int helperChunks, int windowChunks) => helperChunks < MinHelperShare * windowChunks;

    private bool InSoloStretch => Volatile.Read(ref _soloUntil) is var until && until != 0 && System.Diagnostics.Stopwatch.GetTimestamp() < until;


    private int _stalls, _soloRuns, _contendedWindows, _twoThreadJobs, _idleHelperWindows;

    /// <summary>Windows in which the helper ran less than <see cref="MinHelperShare"/> of the chunks (diagnostics and tests).</summary>
    public int IdleHelperWindows => Volatile.Read(ref _idleHelperWindows);

    /// <summary>Chunks the helper thread ran so far (diagnostics).</summary>
    public int HelperChunks => Volatile.Read(ref _done.TotalChunks);

    /// <summary>Jobs offered to the helper so far (not run solo; diagnostics and tests).</summary>
    public int TwoThreadJobs => Volatile.Read(ref _twoThreadJobs);

    /// <summary>Whether a burst is on (<see cref="BeginBurst"/>; diagnostics and tests).</summary>
    public bool InBurst => Volatile.Read(ref _post.Burst) == 1;

    /// <summary>Whether the helper is blocked on its semaphore, or about to be (diagnostics and tests).</summary>
    public bool HelperSleeping => Volatile.Read(ref _sleep.Sleeping) == 1;

    /// <summary>Windows in which the caller waited on the run queue too long (diagnostics and tests).</summary>
    public int ContendedWindows => Volatile.Read(ref _contendedWindows);

    /// <summary>Stalls detected so far: waits for a descheduled helper (diagnostics and tests).</summary>
    public int Stalls => Volatile.Read(ref _stalls);

    /// <summary>Jobs run on the caller alone after a stall (diagnostics and tests).</summary>
    public int SoloRuns => Volatile.Read(ref _soloRuns);
}
