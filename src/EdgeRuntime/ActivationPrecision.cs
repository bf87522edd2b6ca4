namespace EdgeShortcut.Runtime;

/// <summary>
/// How the Linear layers of an int8 model file multiply (the weights are int8 either way; fp32 files
/// ignore this). Set with <see cref="EdgeModelOptions.Activations"/>.
/// </summary>
public enum ActivationPrecision
{
    /// <summary>
    /// The default: activations stay float32 and each int8 weight is dequantized (<c>q * scale</c>, once,
    /// at load). Every backend then computes the same function up to float rounding (logits agree to a
    /// normalized MSE near 1e-14), so greedy decoding gives the same text on the managed engine, the
    /// ONNX Runtime CPU provider and DirectML. Costs 4 bytes of memory per weight.
    /// </summary>
    Float32,

    /// <summary>
    /// Activations are also quantized to int8 (symmetric, one scale per block of 32 inputs) and the
    /// products run on int8 instructions (AVX-VNNI where the CPU has it): one byte per weight in
    /// memory and the fastest CPU decode. On the CPU provider this is ONNX Runtime's fused int8
    /// MatMul, which quantizes the same way, but the rounding of an activation that sits within float
    /// noise of a rounding boundary can differ between engines, so logits agree to a normalized MSE near
    /// 1e-5 and greedy texts can part at a near-tie. DirectML computes in float regardless.
    /// </summary>
    Int8,
}
