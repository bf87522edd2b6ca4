namespace EdgeShortcut.Quantize;

/// <summary>Reconstruction error of one quantized weight: <c>w - q * scale</c> over all elements.</summary>
/// <param name="Name">Checkpoint name of the weight (e.g. <c>blocks.0.attn.qkv.weight</c>).</param>
/// <param name="Shape">PyTorch shape <c>[out, in]</c>.</param>
/// <param name="MaxAbs">Largest absolute error.</param>
/// <param name="Rms">Root mean square error.</param>
/// <param name="RelativeRms">Rms divided by the RMS of the weight itself (0 for an all-zero weight).</param>
public sealed record WeightError(string Name, int[] Shape, double MaxAbs, double Rms, double RelativeRms)
{
    /// <summary>Measures the error of <paramref name="reconstructed"/> against <paramref name="original"/>.</summary>
    public static WeightError Measure(string name, int[] shape, ReadOnlySpan<float> original, ReadOnlySpan<float> reconstructed)
    {
        if (original.Length != reconstructed.Length) throw new ArgumentException($"{name}: lengths differ.");
        double max = 0, sumErr = 0, sumW = 0;
        for (int i = 0; i < original.Length; i++)
        {
            double e = (double)original[i] - reconstructed[i];
            max = Math.Max(max, Math.Abs(e));
            sumErr += e * e;
            sumW += (double)original[i] * original[i];
        }
        int n = Math.Max(1, original.Length);
        double rms = Math.Sqrt(sumErr / n);
        return new WeightError(name, shape, max, rms, sumW == 0 ? 0 : Math.Sqrt(sumErr / sumW));
    }
}
