namespace EdgeShortcut.Trainer.Training;

/// <summary>The settings a resumed run may change (<c>train --resume</c>); null keeps the value stored
/// in the checkpoint's training_state.json.</summary>
/// <param name="Steps">New total step count (<c>--steps</c>).</param>
/// <param name="EvalEvery">New evaluation interval (<c>--eval-every</c>).</param>
/// <param name="Threads">New torch thread count (<c>--threads</c>).</param>
public sealed record ResumeOverrides(int? Steps = null, int? EvalEvery = null, int? Threads = null);
