using System.Buffers.Binary;
using System.Text.Json;
using EdgeShortcut.Core;
using EdgeShortcut.Trainer.Data;
using EdgeShortcut.Trainer.Training;

namespace EdgeShortcut.Experiments;

/// <summary>What the runner did with one run.</summary>
public enum RunAction
{
    /// <summary>Already finished on disk: not touched.</summary>
    Skipped,
    /// <summary>Continued from its <c>last/</c> checkpoint.</summary>
    Resumed,
    /// <summary>Started from scratch.</summary>
    Trained,
    /// <summary>Being trained by another runner process right now: left alone.</summary>
    Busy,
}

/// <summary>One arm x seed of a sweep: where it lives and its options.</summary>
/// <param name="Arm">The arm.</param>
/// <param name="Seed">The seed.</param>
/// <param name="Options">Full training options (validated).</param>
public sealed record PlannedRun(ArmSpec Arm, long Seed, TrainingOptions Options)
{
    /// <summary>Run directory (<c>OUT/runs/ARM/seed-S</c>).</summary>
    public string Dir => Options.OutDir;
}

/// <summary>The result of <see cref="SweepRunner.Run"/> for one run.</summary>
/// <param name="Run">The run.</param>
/// <param name="Action">Skipped, resumed or trained.</param>
/// <param name="Finished">True when the run has reached its last step.</param>
public sealed record RunOutcome(PlannedRun Run, RunAction Action, bool Finished);

/// <summary>
/// Executes a sweep: writes the shared data files under <c>OUT/data</c>, then trains every arm x seed
/// in its own directory, seed-major (all arms of the first seed first, so a sweep stopped early still
/// compares every arm). A finished run (<c>last/</c> at the final step) is skipped, an unfinished one
/// resumes from <c>last/</c>; a run directory trained with other options is refused, never mixed.
/// </summary>
public sealed class SweepRunner(ExperimentSpec spec, string outDir, int threads = 1)
{
    /// <summary>The sweep's output directory.</summary>
    public string OutDir { get; } = Path.GetFullPath(outDir);

    /// <summary>Every run of the sweep in execution order (writes the data files on first use).</summary>
    public IReadOnlyList<PlannedRun> Plan()
    {
        var (train, val) = PrepareData();
        return [.. from seed in spec.Seeds
                   from arm in spec.Arms
                   select new PlannedRun(arm, seed, spec.Options(arm, seed, RunDir(arm.Name, seed), train, val) with { Threads = threads })];
    }

    /// <summary>Directory of one run.</summary>
    public string RunDir(string arm, long seed) => Path.Combine(OutDir, "runs", arm, $"seed-{seed}");

    /// <summary>Trains every run not finished yet; stops at cancellation after checkpointing the current run.
    /// Several processes may run the same sweep at once: each run is claimed with an exclusive lock on
    /// <c>RUN/.lock</c> (released by the OS if a process dies), and a run claimed elsewhere is reported
    /// <see cref="RunAction.Busy"/> and left to its owner.</summary>
    public IReadOnlyList<RunOutcome> Run(Action<PlannedRun, TrainingProgress>? progress = null, Action<RunOutcome>? finished = null,
        CancellationToken cancellation = default)
    {
        var outcomes = new List<RunOutcome>();
        foreach (var run in Plan())
        {
            if (cancellation.IsCancellationRequested) break;
            Directory.CreateDirectory(run.Dir);
            FileStream claim;
            try { claim = new FileStream(Path.Combine(run.Dir, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException)
            {
                outcomes.Add(new RunOutcome(run, RunAction.Busy, false));
                continue;
            }
            RunOutcome outcome;
            using (claim)
            {
                var state = ReadStateChecked(run);
                if (state is not null && state.Step >= run.Options.Steps) outcome = new RunOutcome(run, RunAction.Skipped, true);
                else
                {
                    var trainer = new Trainer.Training.Trainer(run.Options, resume: state is not null);
                    var action = state is null ? RunAction.Trained : RunAction.Resumed;
                    try
                    {
                        var result = trainer.Run(p => progress?.Invoke(run, p), cancellation);
                        outcome = new RunOutcome(run, action, result.Step >= run.Options.Steps);
                    }
                    catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
                    {
                        // Cancelled inside an evaluation: the trainer throws instead of checkpointing that
                        // step; the run resumes from its previous last/ (or starts over if it had none).
                        outcome = new RunOutcome(run, action, false);
                    }
                }
            }
            outcomes.Add(outcome);
            finished?.Invoke(outcome);
            if (!outcome.Finished) break;
        }
        return outcomes;
    }

    /// <summary>The run's <c>last/</c> state, or null when it has none; throws <see cref="SpecException"/> when
    /// the directory holds a run with different options (all except the thread count must match).
    /// <paramref name="recover"/> repairs an interrupted checkpoint commit; only the process that trains
    /// the run may do that (a reader doing it could race the trainer's two renames).</summary>
    public static TrainingState? ReadStateChecked(PlannedRun run, bool recover = true)
    {
        string last = Trainer.Training.Trainer.LastDir(run.Dir);
        if (recover) EdgeShortcut.Core.CheckpointDirectory.Recover(last);
        var state = recover ? (File.Exists(Path.Combine(last, TrainingCheckpoint.StateFile)) ? TrainingCheckpoint.ReadState(last) : null) : PeekState(last);
        if (state is null) return null;
        string Key(TrainingOptions o) => JsonSerializer.Serialize(o with { Threads = 0 });
        if (Key(state.Options) != Key(run.Options))
            throw new SpecException(run.Dir, $"this run directory was trained with other options than the spec now gives arm '{run.Arm.Name}' " +
                $"(stored: {Key(state.Options)}; spec: {Key(run.Options)}). Delete the directory or restore the spec.");
        return state;
    }

    // Reads training_state.json without touching the directory; a checkpoint being committed by another
    // process can vanish for a moment between its two renames, so that is retried, then read from .last.old.
    private static TrainingState? PeekState(string last)
    {
        string old = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(last))!, $".{Path.GetFileName(last)}.old");
        for (int attempt = 0; attempt < 5; attempt++)
        {
            foreach (var dir in new[] { last, old })
            {
                try { return JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(Path.Combine(dir, TrainingCheckpoint.StateFile))); }
                catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { }
            }
            if (!Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(last)))) return null;
            Thread.Sleep(50);
        }
        return null;
    }

    /// <summary>Writes the corpus files every run reads and returns (train, validation-or-null).</summary>
    private (string Train, string? Val) PrepareData()
    {
        string dataDir = Path.Combine(OutDir, "data");
        Directory.CreateDirectory(dataDir);
        string source = spec.DataPath ?? Path.Combine(dataDir, "stream.u16");
        if (spec.Generate is { } g && !File.Exists(source)) g.WriteTokenFile(source);
        if (spec.ValTokens is not int valTokens) return (source, null);

        var tokenizer = spec.TokenVocab is int v ? new TokenizerSpec(TokenizerSpec.TokenFileKind, v) : TokenizerSpec.Bytes;
        var (train, val) = TokenCorpus.Load(source, tokenizer).SplitLastTenth();
        if (val.Length < valTokens)
            throw new SpecException(source, $"'val_tokens' = {valTokens} exceeds the last 10% of the corpus ({val.Length} tokens)");
        string ext = spec.TokenVocab is null ? "txt" : "u16";
        string trainPath = Path.Combine(dataDir, $"train.{ext}"), valPath = Path.Combine(dataDir, $"val.{ext}");
        WriteIfChanged(trainPath, Encode(train.Tokens, spec.TokenVocab is null));
        WriteIfChanged(valPath, Encode(val.Tokens.AsSpan(0, valTokens), spec.TokenVocab is null));
        return (trainPath, valPath);
    }

    /// <summary>Bytes for the byte tokenizer (id = byte), little-endian uint16 otherwise.</summary>
    private static byte[] Encode(ReadOnlySpan<ushort> ids, bool bytes)
    {
        var buffer = new byte[ids.Length * (bytes ? 1 : 2)];
        for (int i = 0; i < ids.Length; i++)
            if (bytes) buffer[i] = (byte)ids[i];
            else BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(2 * i), ids[i]);
        return buffer;
    }

    // A resumed run rereads these files, so they are rewritten only when their content would change.
    private static void WriteIfChanged(string path, byte[] bytes)
    {
        if (File.Exists(path) && File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes)) return;
        AtomicFile.WriteAllBytes(path, bytes);
    }
}
