namespace EdgeShortcut.Core;

/// <summary>
/// The one int8 scheme, shared by the quantizer and the managed engine: symmetric, one fp32 scale
/// per output channel (row of a PyTorch <c>[out, in]</c> weight), no zero point.
/// <c>scale = max|w_row| / 127</c> (1 for an all-zero row), <c>q = clamp(round_half_even(w / scale), -127, 127)</c>,
/// <c>w ~= q * scale</c>. -128 is never produced, so negation and the VNNI bias trick stay exact.
/// </summary>
internal static class Int8Quantization
{
    /// <summary>Quantizes a row-major <c>[rows, cols]</c> matrix. <paramref name="q"/> has rows*cols
    /// elements, <paramref name="scales"/> has rows.</summary>
    public static void QuantizeRows(ReadOnlySpan<float> w, int rows, int cols, Span<sbyte> q, Span<float> scales)
    {
        if (rows < 0 || cols < 0 || w.Length != (long)rows * cols) throw new ArgumentException($"Weight has {w.Length} values, expected {rows}x{cols}.");
        if (q.Length != w.Length) throw new ArgumentException("Destination q must have rows*cols elements.", nameof(q));
        if (scales.Length != rows) throw new ArgumentException("Destination scales must have one element per row.", nameof(scales));
        for (int r = 0; r < rows; r++)
        {
            var row = w.Slice(r * cols, cols);
            float max = 0;
            foreach (float v in row)
            {
                if (!float.IsFinite(v)) throw new ArgumentException($"Weight row {r} holds a non-finite value ({v}).");
                max = MathF.Max(max, MathF.Abs(v));
            }
            float scale = max == 0 ? 1f : max / 127f;
            scales[r] = scale;
            var qr = q.Slice(r * cols, cols);
            for (int c = 0; c < cols; c++)
                qr[c] = (sbyte)Math.Clamp(MathF.Round(row[c] / scale, MidpointRounding.ToEven), -127f, 127f);
        }
    }

    /// <summary>Reconstructs <c>w ~= q * scale</c> into <paramref name="w"/>.</summary>
    public static void DequantizeRows(ReadOnlySpan<sbyte> q, ReadOnlySpan<float> scales, int rows, int cols, Span<float> w)
    {
        if (q.Length != (long)rows * cols || w.Length != q.Length || scales.Length != rows) throw new ArgumentException("Shapes of q, scales and w do not agree.");
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) w[r * cols + c] = q[r * cols + c] * scales[r];
    }
}
