using System.Globalization;
using EdgeShortcut.Core;
using EdgeShortcut.Trainer.Training;

namespace EdgeShortcut.Experiments;

/// <summary>One point of a run's validation curve (a row of its log.csv).</summary>
/// <param name="Step">Optimizer step.</param>
/// <param name="TokensSeen">Training tokens consumed up to that step.</param>
/// <param name="ValNll">Mean validation NLL (nats/token).</param>
public readonly record struct CurvePoint(int Step, long TokensSeen, double ValNll);

/// <summary>What one run directory says about the run, read from <c>last/training_state.json</c> and <c>log.csv</c>.</summary>
/// <param name="Run">The planned run.</param>
/// <param name="Parameters">Parameter count of its config (<see cref="TensorNames.ParameterCount"/>).</param>
/// <param name="Step">Steps done so far.</param>
/// <param name="TokensSeen">Training tokens consumed.</param>
/// <param name="WallSeconds">Training time in seconds as the trainer logs it (optimizer steps only; evaluation excluded; summed across resumes).</param>
/// <param name="BestValNll">Best validation NLL, or null before the first evaluation.</param>
/// <param name="FinalValNll">Validation NLL at the last step, or null while unfinished.</param>
/// <param name="Curve">Every evaluation, in step order.</param>
public sealed record RunResult(PlannedRun Run, long Parameters, int Step, long TokensSeen, double WallSeconds,
    double? BestValNll, double? FinalValNll, IReadOnlyList<CurvePoint> Curve)
{
    /// <summary>True when the run reached its last step.</summary>
    public bool Finished => Step >= Run.Options.Steps && FinalValNll is not null;

    /// <summary>Reads a run directory; a run that has not checkpointed yet gives an empty result.</summary>
    public static RunResult Read(PlannedRun run)
    {
        long parameters = TensorNames.ParameterCount(run.Options.ModelConfig());
        var state = SweepRunner.ReadStateChecked(run, recover: false);
        var curve = ReadCurve(Path.Combine(run.Dir, Trainer.Training.Trainer.LogFile));
        if (state is null) return new RunResult(run, parameters, 0, 0, 0, null, null, []);
        double? final = state.Step >= run.Options.Steps ? curve.LastOrDefault(p => p.Step == run.Options.Steps) is { Step: > 0 } p ? p.ValNll : state.ValNll : null;
        return new RunResult(run, parameters, state.Step, state.TokensSeen, state.ElapsedSeconds, state.BestValNll, final,
            [.. curve.Where(c => c.Step <= state.Step)]);
    }

    /// <summary>Rows of the trainer's log.csv (<c>step,tokens_seen,train_loss,val_nll,...</c>).</summary>
    private static List<CurvePoint> ReadCurve(string path)
    {
        var points = new List<CurvePoint>();
        if (!File.Exists(path)) return points;
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            var f = line.Split(',');
            if (f.Length < 4) continue;
            points.Add(new CurvePoint(int.Parse(f[0], CultureInfo.InvariantCulture), long.Parse(f[1], CultureInfo.InvariantCulture),
                double.Parse(f[3], CultureInfo.InvariantCulture)));
        }
        return points;
    }
}
