namespace EdgeShortcut.Core;

/// <summary>Bounds on sampling settings, shared by the runtime's <c>GenerationOptions</c> and the
/// trainer's <c>sample</c>, so both refuse the same values.</summary>
internal static class SamplingLimits
{
    /// <summary>Smallest positive temperature. Sampling divides the logits by T; below this 1/T
    /// overflows float for tiny T (1e-40 gave infinity and garbage text), and the distribution is
    /// greedy in all but name long before: use 0 for greedy.</summary>
    public const double MinTemperature = 1e-3;

    /// <summary>Largest temperature (beyond it sampling is uniform noise).</summary>
    public const double MaxTemperature = 100;

    /// <summary>The rule as text for messages.</summary>
    public const string TemperatureRule = "must be 0 (greedy) or in 0.001..100";

    /// <summary>True for 0 or a finite value in <see cref="MinTemperature"/>..<see cref="MaxTemperature"/>.</summary>
    public static bool IsValidTemperature(double t) => t == 0 || (t >= MinTemperature && t <= MaxTemperature);
}
