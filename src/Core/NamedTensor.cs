namespace EdgeShortcut.Core;

/// <summary>A named fp32 tensor in row-major order. <c>Data.Length</c> equals the product of <c>Shape</c>.</summary>
public sealed record NamedTensor(string Name, int[] Shape, float[] Data)
{
    /// <summary>Number of elements implied by the shape.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}
