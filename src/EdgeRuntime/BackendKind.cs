namespace EdgeShortcut.Runtime;

/// <summary>Where generation runs.</summary>
public enum BackendKind
{
    /// <summary>DirectML if it is really available, else the ONNX Runtime CPU provider, else the managed engine.</summary>
    Auto,
    /// <summary>ONNX Runtime with the DirectML execution provider (Windows GPUs).</summary>
    DirectML,
    /// <summary>ONNX Runtime with the CPU execution provider.</summary>
    Cpu,
    /// <summary>The pure C# SIMD engine: no native code at all.</summary>
    Managed,
}
