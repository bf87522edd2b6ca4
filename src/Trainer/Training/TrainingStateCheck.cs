namespace EdgeShortcut.Trainer.Training;

/// <summary>Validates a <see cref="TrainingState"/> read from disk before a resume trusts it: every
/// problem is a <see cref="CheckpointFormatException"/> naming the file and the key.</summary>
internal static class TrainingStateCheck
{
    /// <summary>Throws unless <paramref name="state"/> (read from <paramref name="path"/>) can be resumed.</summary>
    public static void Validate(TrainingState state, string path)
    {
        void Require(bool ok, string key, string problem)
        {
            if (!ok) throw new CheckpointFormatException(path, $"'{key}' {problem}");
        }
        Require(state.Step >= 0, "step", $"is {state.Step}, must be >= 0");
        Require(state.TokensSeen >= 0, "tokens_seen", $"is {state.TokensSeen}, must be >= 0");
        Require(double.IsFinite(state.ElapsedSeconds) && state.ElapsedSeconds >= 0, "elapsed_seconds", $"is {state.ElapsedSeconds}, must be a finite number >= 0");
        Require(state.BestValNll is null || double.IsFinite(state.BestValNll.Value), "best_val_nll", "must be a finite number or null");
        Require(state.ValNll is null || double.IsFinite(state.ValNll.Value), "val_nll", "must be a finite number or null");
        Require(state.Options is not null, "options", "is missing");
        Require(state.Data is not null, "data_position", "is missing");
        byte[] rng;
        try { rng = Convert.FromBase64String(state.TorchRngState ?? ""); }
        catch (FormatException) { throw new CheckpointFormatException(path, "'torch_rng_state' is not base64"); }
        if (TorchRngState.Problem(rng) is { } problem) throw new CheckpointFormatException(path, $"'torch_rng_state' {problem}");
        try { state.Options!.Validate(); }
        catch (ArgumentException e) { throw new CheckpointFormatException(path, $"'options' are invalid: {e.Message}", e); }
    }
}
