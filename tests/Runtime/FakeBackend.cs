using System.Collections.Concurrent;
using System.Diagnostics;
using EdgeShortcut.Core;
using EdgeShortcut.Runtime;

namespace EdgeShortcut.Tests.Runtime;

/// <summary>
/// A scripted <see cref="IInferenceBackend"/> for the generation logic: the logits of a step are a
/// function of the whole context the sequence holds (so a wrong cache or window shows up), and every
/// call is recorded. It enforces the contract the real backends rely on (1..n_ctx tokens, ids in range).
/// </summary>
internal sealed class FakeBackend(ModelConfig config, Func<IReadOnlyList<int>, float[]> logitsOf, double secondsPerToken = 0) : IInferenceBackend
{
    /// <summary>Every Append: the context after it and the chunk length.</summary>
    public ConcurrentQueue<(int[] Context, int Chunk)> Calls { get; } = new();
    public int Sequences;
    public int DisposedSequences;
    public bool Disposed;

    public BackendKind Kind => BackendKind.Cpu;
    public int Threads => 1;
    public ModelConfig Config { get; } = config;

    public IInferenceSequence CreateSequence()
    {
        Interlocked.Increment(ref Sequences);
        return new Sequence(this);
    }

    public void Dispose() => Disposed = true;

    /// <summary>A model over the byte vocab whose greedy continuation spells <paramref name="text"/>
    /// (cyclically), whatever the prompt: the next byte is text[(generated so far) % length], where
    /// "generated" counts the context beyond the first <paramref name="promptLength"/> tokens.</summary>
    public static FakeBackend Scripted(string text, int promptLength, int contextLength = 256, double secondsPerToken = 0)
    {
        byte[] script = System.Text.Encoding.UTF8.GetBytes(text);
        return new FakeBackend(ByteConfig(contextLength), ctx =>
        {
            var logits = new float[256];
            logits[script[(ctx.Count - promptLength) % script.Length]] = 10;
            return logits;
        }, secondsPerToken);
    }

    public static ModelConfig ByteConfig(int contextLength = 256) => ModelConfig.Create(layers: 2, dim: 8, heads: 2, contextLength: contextLength);

    /// <summary>Wraps the backend in an EdgeModel as Load would (byte tokenizer).</summary>
    public EdgeModel ToModel(string path = "fake.onnx") =>
        new(new ModelFileInfo(path, Config, TokenizerSpec.Bytes, "int8"), this, "fake backend for tests");

    private sealed class Sequence(FakeBackend owner) : IInferenceSequence
    {
        private readonly List<int> _context = [];
        private float[] _last = [];
        private bool _disposed;

        public int Length => _context.Count;

        public ReadOnlySpan<float> Append(ReadOnlySpan<int> tokens)
        {
            Assert.False(_disposed, "Append after Dispose");
            Assert.True(tokens.Length >= 1, "Append needs at least one token");
            Assert.True(_context.Count + tokens.Length <= owner.Config.ContextLength, $"context {_context.Count}+{tokens.Length} exceeds n_ctx {owner.Config.ContextLength}");
            foreach (int t in tokens) Assert.InRange(t, 0, owner.Config.VocabSize - 1);
            if (owner.SecondsPerToken > 0)
            {
                // Busy-wait: the cost is real wall time, like a model call.
                var sw = Stopwatch.StartNew();
                while (sw.Elapsed.TotalSeconds < owner.SecondsPerToken * tokens.Length) Thread.SpinWait(20);
            }
            _context.AddRange(tokens.ToArray());
            owner.Calls.Enqueue((_context.ToArray(), tokens.Length));
            _last = owner.LogitsOf(_context);
            return _last;
        }

        public void Reset() => _context.Clear();

        public void Dispose()
        {
            if (!_disposed) Interlocked.Increment(ref owner.DisposedSequences);
            _disposed = true;
        }
    }

    private double SecondsPerToken => secondsPerToken;
    private float[] LogitsOf(IReadOnlyList<int> ctx) => logitsOf(ctx);
}
