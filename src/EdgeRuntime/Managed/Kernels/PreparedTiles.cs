namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// A Linear's quantized token rows laid out once for a GEMM tile that reads them in its own order, so that every row chunk
/// of the product reuses them (<c>Int8MatVec.PrepareBatch</c>): <see cref="InterleavedTiles"/> for the AVX-512 VNNI tile,
/// <see cref="WinogradTiles"/> for the AVX2 one. Buffers grow once per size, so a prefill allocates nothing after warm-up.
/// </summary>
internal abstract class PreparedTiles
{
    /// <summary>Whole token tiles held.</summary>
    public int Tiles { get; protected set; }

    /// <summary>The row length they were made for.</summary>
    public int PaddedCols { get; protected set; }
}
