namespace EdgeShortcut.Runtime;

/// <summary>The loss of one next-token prediction, shared by every scorer (the runtime's <see cref="TokenScorer"/>,
/// the quantizer's validation): <c>-log softmax(logits)[target]</c> in double with the max subtracted, so it stays
/// finite for any finite logits.</summary>
internal static class NextTokenLoss
{
    /// <summary>The negative log-likelihood of <paramref name="target"/>; <paramref name="argmax"/> is the most likely
    /// token (ties: the lowest id).</summary>
    public static double Nll(ReadOnlySpan<float> logits, int target, out int argmax)
    {
        float max = float.NegativeInfinity;
        argmax = 0;
        for (int v = 0; v < logits.Length; v++) if (logits[v] > max) { max = logits[v]; argmax = v; }
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - max);
        return Math.Log(sum) + max - logits[target];
    }
}
