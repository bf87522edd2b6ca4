namespace EdgeShortcut.Trainer.Training;

/// <summary>Linear warm-up to the peak rate, then cosine decay to the minimum at the last step.</summary>
public static class LearningRateSchedule
{
    /// <summary>Learning rate for 0-based <paramref name="step"/> of <paramref name="totalSteps"/>:
    /// <c>lr * (step+1)/warmup</c> during warm-up, then
    /// <c>min + (lr - min) * (1 + cos(pi * p)) / 2</c> with p going from 0 to 1 over the remaining steps.</summary>
    public static double At(int step, int totalSteps, double lr, double minLr, int warmup)
    {
        if (step < warmup) return lr * (step + 1) / warmup;
        int decaySteps = Math.Max(1, totalSteps - warmup - 1);
        double p = Math.Clamp((double)(step - warmup) / decaySteps, 0, 1);
        return minLr + (lr - minLr) * 0.5 * (1 + Math.Cos(Math.PI * p));
    }
}
