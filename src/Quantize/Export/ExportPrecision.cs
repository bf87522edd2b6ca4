namespace EdgeShortcut.Quantize;

/// <summary>How the Linear weights of the exported graph are stored (docs/FORMAT.md section 5).</summary>
public enum ExportPrecision
{
    /// <summary>Symmetric int8 per output channel: <c>X.weight_q</c> + <c>X.weight_scale</c>, DequantizeLinear + MatMul.</summary>
    Int8,
    /// <summary>float32 <c>X.weight_t</c> <c>[in, out]</c>, plain MatMul (for comparisons).</summary>
    Fp32,
}
