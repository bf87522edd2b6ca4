using System.Diagnostics;
using System.Numerics.Tensors;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Runtime.Onnx;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// One backend in one activation mode on one model file, with its sequence and the samples of every
/// measured run: decode speed of tokens 1-32 and 224-255 (and 1-255) of a 256-token greedy run from a
/// 1-token prompt, the time of a 256-token prefill, and managed bytes allocated per decoded token.
/// </summary>
internal sealed class SweepContender : IDisposable
{
    /// <summary>Positions of a decode run: the 1-token prompt, then <see cref="DecodeSteps"/> single-token steps.</summary>
    public const int DecodeSteps = 255, Window = 32;

    private readonly IInferenceSequence _sequence;
    private readonly long[] _stamps = new long[DecodeSteps + 1];
    private readonly int[] _token = new int[1];

    private SweepContender(string backend, ActivationPrecision activations, IInferenceBackend engine)
    {
        Backend = backend;
        Activations = activations;
        Engine = engine;
        _sequence = engine.CreateSequence();
    }

    /// <summary>Opens <paramref name="file"/> on the managed engine (with its caches in <paramref name="cache"/>) or ONNX
    /// Runtime's CPU provider (float32 caches only) at <paramref name="threads"/> threads.</summary>
    public static SweepContender Open(ModelFileInfo file, bool managed, ActivationPrecision activations, int threads,
        KeyValueCachePrecision cache = KeyValueCachePrecision.Float32)
    {
        IInferenceBackend engine = managed
            ? ManagedBackend.Load(file, activations, threads, cache)
            : new OnnxRuntimeBackend(file, BackendKind.Cpu, new EdgeModelOptions { Activations = activations, Threads = threads });
        return new SweepContender(managed ? NameOf(cache) : "ort-cpu", activations, engine) { Cache = cache };
    }

    /// <summary>The managed engine's name in the tables for caches stored as <paramref name="cache"/>.</summary>
    public static string NameOf(KeyValueCachePrecision cache) => cache switch
    {
        KeyValueCachePrecision.Float32 => "managed",
        KeyValueCachePrecision.BFloat16 => "managed-bf16kv",
        _ => "managed-int8kv",
    };

    /// <summary>How the contender's key/value caches are stored.</summary>
    public KeyValueCachePrecision Cache { get; private init; }

    /// <summary><c>managed</c>, <c>managed-bf16kv</c> (bfloat16 caches), <c>managed-int8kv</c> (int8 caches) or <c>ort-cpu</c>.</summary>
    public string Backend { get; }
    /// <summary>The activation mode.</summary>
    public ActivationPrecision Activations { get; }
    /// <summary>The opened backend.</summary>
    public IInferenceBackend Engine { get; }
    /// <summary>Tokens/s of decode steps 1-32, per run.</summary>
    public List<double> First { get; } = [];
    /// <summary>Tokens/s of decode steps 224-255, per run.</summary>
    public List<double> Last { get; } = [];
    /// <summary>Tokens/s of decode steps 1-255, per run.</summary>
    public List<double> Whole { get; } = [];
    /// <summary>Milliseconds of a 256-token prefill (one model call, logits of the last token), per run.</summary>
    public List<double> PrefillMs { get; } = [];
    /// <summary>Managed bytes allocated per decoded token, per run.</summary>
    public List<double> AllocPerToken { get; } = [];

    /// <summary>A label such as <c>managed int8</c>.</summary>
    public string Name => $"{Backend} {Activations.ToString().ToLowerInvariant()}";

    /// <summary>One greedy decode run; records its samples unless <paramref name="record"/> is false (warm-up).</summary>
    public void Decode(bool record)
    {
        _sequence.Reset();
        _token[0] = 10;
        var logits = _sequence.Append(_token);
        long bytes0 = GC.GetAllocatedBytesForCurrentThread();
        _stamps[0] = Stopwatch.GetTimestamp();
        for (int i = 1; i <= DecodeSteps; i++)
        {
            _token[0] = TensorPrimitives.IndexOfMax(logits);
            logits = _sequence.Append(_token);
            _stamps[i] = Stopwatch.GetTimestamp();
        }
        long bytes = GC.GetAllocatedBytesForCurrentThread() - bytes0;
        if (!record) return;
        First.Add(TokensPerSecond(0, Window));
        Last.Add(TokensPerSecond(DecodeSteps - Window, DecodeSteps));
        Whole.Add(TokensPerSecond(0, DecodeSteps));
        AllocPerToken.Add((double)bytes / DecodeSteps);
    }

    /// <summary>One prefill of <paramref name="prompt"/> from empty caches.</summary>
    public void Prefill(int[] prompt, bool record)
    {
        _sequence.Reset();
        long t0 = Stopwatch.GetTimestamp();
        _sequence.Append(prompt);
        double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        if (record) PrefillMs.Add(ms);
    }

    private double TokensPerSecond(int from, int to) => (to - from) * (double)Stopwatch.Frequency / (_stamps[to] - _stamps[from]);

    /// <summary>Disposes the sequence and the backend.</summary>
    public void Dispose()
    {
        _sequence.Dispose();
        Engine.Dispose();
    }
}
