namespace EdgeShortcut.Runtime;

/// <summary>How <see cref="EdgeModel.Load"/> opens a model.</summary>
public sealed record EdgeModelOptions
{
    /// <summary>Where to run; <see cref="BackendKind.Auto"/> picks DirectML, then the ONNX Runtime CPU
    /// provider, then the managed engine, and reports its choice in <see cref="EdgeModel.BackendReason"/>.</summary>
    public BackendKind Backend { get; init; } = BackendKind.Auto;

    /// <summary>Threads per model call on the CPU backends. 0 (the default) gives every CPU backend the same
    /// count: the managed engine's, <c>min(logical cores, 2)</c> (the calling thread plus one helper; on a
    /// 2-core machine, all cores), and ONNX Runtime's CPU provider that many intra-op threads. A positive
    /// value is ONNX Runtime's intra-op thread count; the managed engine takes <c>min(value, 2)</c> (1 runs
    /// without the helper thread). <see cref="EdgeModel.Threads"/> reports the count in use.</summary>
    public int Threads { get; init; }

    /// <summary>How int8 model files multiply: float32 activations (the default; every backend agrees) or int8
    /// activations (fastest on CPUs). See <see cref="ActivationPrecision"/>.</summary>
    public ActivationPrecision Activations { get; init; } = ActivationPrecision.Float32;

    /// <summary>How the managed engine stores its key/value caches: float32 (the default, as the ONNX graph), bfloat16
    /// (half the bytes) or int8 (a quarter, with per-head scales): late tokens of a long context decode faster. See
    /// <see cref="KeyValueCachePrecision"/>. Anything but float32 needs the managed engine: <see cref="BackendKind.Auto"/>
    /// then picks it, and an explicit ONNX Runtime backend refuses the option.</summary>
    public KeyValueCachePrecision KeyValueCache { get; init; } = KeyValueCachePrecision.Float32;

    /// <summary>DirectML adapter index (0 = the default GPU).</summary>
    public int DirectMLDeviceId { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad option.</summary>
    public EdgeModelOptions Validate()
    {
        if (!Enum.IsDefined(Backend)) throw new ArgumentException($"Backend {(int)Backend} is not a BackendKind.", nameof(Backend));
        if (!Enum.IsDefined(Activations)) throw new ArgumentException($"Activations {(int)Activations} is not an ActivationPrecision.", nameof(Activations));
        if (!Enum.IsDefined(KeyValueCache)) throw new ArgumentException($"KeyValueCache {(int)KeyValueCache} is not a KeyValueCachePrecision.", nameof(KeyValueCache));
        if (Threads is < 0 or > 1024) throw new ArgumentException($"Threads must be in 0..1024 (0 = default), not {Threads}.", nameof(Threads));
        if (DirectMLDeviceId < 0) throw new ArgumentException($"DirectMLDeviceId must be >= 0, not {DirectMLDeviceId}.", nameof(DirectMLDeviceId));
        return this;
    }
}
