using System.Runtime.CompilerServices;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// Scratch for the int8 Linear layers: up to C token rows of activations quantized in blocks of 32
/// (<see cref="ActivationQuantizer"/>). Row t of a layer with <c>cols</c> inputs is
/// <c>Q[t * P .. (t + 1) * P]</c> with <c>P = PaddedLength(cols)</c>, and its per-block scales and offsets
/// are <c>[t * P / 32 .. (t + 1) * P / 32]</c>. Allocated once per sequence with <see cref="RunState"/>.
/// </summary>
internal sealed class QuantizedActivations
{
    /// <summary>Room for <paramref name="rows"/> token rows of up to <paramref name="maxCols"/> inputs.</summary>
    public QuantizedActivations(int rows, int maxCols)
    {
        int padded = ActivationQuantizer.PaddedLength(maxCols);
        Q = new sbyte[(long)rows * padded];
        Scales = new float[(long)rows * padded / ActivationQuantizer.BlockSize];
        Offsets = new int[Scales.Length];
    }

    /// <summary>Quantized rows <c>[C, padded cols]</c>.</summary>
    public sbyte[] Q { get; }
    /// <summary>Per-block activation scales.</summary>
    public float[] Scales { get; }
    /// <summary>Per-block <c>128 * sum(q)</c> (see <see cref="PackedInt8Matrix"/>).</summary>
    public int[] Offsets { get; }

    /// <summary>Quantizes <paramref name="count"/> rows of <paramref name="cols"/> values from <paramref name="x"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    public void Quantize(ReadOnlySpan<float> x, int count, int cols)
    {
        EnsureHolds(count, cols);
        for (int t = 0; t < count; t++) QuantizeColumns(x.Slice(t * cols, cols), t, cols, 0);
    }

    /// <summary>Throws unless this scratch holds <paramref name="count"/> quantized rows of a layer with <paramref name="cols"/> inputs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void EnsureHolds(int count, int cols)
    {
        if ((long)count * ActivationQuantizer.PaddedLength(cols) > Q.Length)
            throw new ArgumentException($"Scratch holds {Q.Length} quantized values, {count} rows of {cols} need {(long)count * ActivationQuantizer.PaddedLength(cols)}.");
    }

    /// <summary>Quantizes columns <c>c0..c0+x.Length-1</c> of row <paramref name="t"/> of a layer with <paramref name="cols"/>
    /// inputs (the same bytes, scales and offsets as quantizing the whole row: blocks are independent). <paramref name="c0"/>
    /// must start a block and the range must end on a block boundary or at the row's end, so that two threads quantizing
    /// neighbouring ranges never write the same block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void QuantizeColumns(ReadOnlySpan<float> x, int t, int cols, int c0)
    {
        const int b = ActivationQuantizer.BlockSize;
        if (c0 < 0 || c0 % b != 0 || c0 + x.Length > cols || (x.Length % b != 0 && c0 + x.Length != cols))
            throw new ArgumentException($"Columns {c0}..{c0 + x.Length - 1} of {cols} are not whole blocks of {b}.");
        Row(t, cols, out var q, out var scales, out var offsets);
        int padded = ActivationQuantizer.PaddedLength(x.Length);
        ActivationQuantizer.Quantize(x, q.Slice(c0, padded), scales.Slice(c0 / b, padded / b), offsets.Slice(c0 / b, padded / b));
    }

    /// <summary>Rows 0..<paramref name="count"/>-1 of a layer with <paramref name="cols"/> inputs, contiguous:
    /// values <c>[count, PaddedLength(cols)]</c>, scales and offsets <c>[count, PaddedLength(cols) / 32]</c>.</summary>
    public void Rows(int count, int cols, out Span<sbyte> q, out Span<float> scales, out Span<int> offsets) =>
        Rows(0, count, cols, out q, out scales, out offsets);

    /// <summary>Rows <paramref name="t0"/>..<paramref name="t0"/>+<paramref name="count"/>-1, laid out as <see cref="Rows(int, int, out Span{sbyte}, out Span{float}, out Span{int})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Rows(int t0, int count, int cols, out Span<sbyte> q, out Span<float> scales, out Span<int> offsets)
    {
        int padded = ActivationQuantizer.PaddedLength(cols), blocks = padded / ActivationQuantizer.BlockSize;
        q = Q.AsSpan(t0 * padded, count * padded);
        scales = Scales.AsSpan(t0 * blocks, count * blocks);
        offsets = Offsets.AsSpan(t0 * blocks, count * blocks);
    }

    /// <summary>Row <paramref name="t"/> of a layer with <paramref name="cols"/> inputs: its quantized values
    /// <c>[PaddedLength(cols)]</c> and its per-block scales and offsets.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Row(int t, int cols, out Span<sbyte> q, out Span<float> scales, out Span<int> offsets) =>
        Rows(t, 1, cols, out q, out scales, out offsets);
}
