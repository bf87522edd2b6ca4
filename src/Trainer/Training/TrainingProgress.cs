namespace EdgeShortcut.Trainer.Training;

/// <summary>One progress report: sent after every optimizer step, and again (with
/// <see cref="IsEval"/> set) after every evaluation.</summary>
/// <param name="Step">Optimizer steps completed.</param>
/// <param name="TotalSteps">Steps the run will do.</param>
/// <param name="TrainLoss">Mean training loss (nats/token) of the last step.</param>
/// <param name="LearningRate">Learning rate used by the last step.</param>
/// <param name="TokensPerSecond">Training throughput of this process (evaluation time excluded).</param>
/// <param name="Elapsed">Training time of this process so far.</param>
/// <param name="Eta">Estimated time to the last step.</param>
/// <param name="Validation">The evaluation just done, when <see cref="IsEval"/>.</param>
/// <param name="BestValNll">Best validation NLL so far.</param>
/// <param name="IsEval">True for the report that follows an evaluation.</param>
public sealed record TrainingProgress(
    int Step, int TotalSteps, double TrainLoss, double LearningRate, double TokensPerSecond,
    TimeSpan Elapsed, TimeSpan Eta, EvalResult? Validation, double? BestValNll, bool IsEval);

/// <summary>The outcome of <see cref="Trainer.Run"/>.</summary>
/// <param name="Step">Steps completed (equals the options' steps unless cancelled).</param>
/// <param name="StepLosses">Training loss of every step this call ran, in order (index 0 = first step of this call).</param>
/// <param name="LastValidation">The last evaluation, if any ran in this call.</param>
/// <param name="BestValNll">Best validation NLL of the whole run.</param>
/// <param name="TokensPerSecond">Mean training throughput of this call.</param>
/// <param name="Cancelled">True when stopped by the cancellation token (the last checkpoint was still written).</param>
/// <param name="LastCheckpoint">Path of <c>last/</c>.</param>
/// <param name="BestCheckpoint">Path of <c>best/</c>.</param>
public sealed record TrainingResult(
    int Step, IReadOnlyList<double> StepLosses, EvalResult? LastValidation, double? BestValNll,
    double TokensPerSecond, bool Cancelled, string LastCheckpoint, string BestCheckpoint);
