using EdgeShortcut.Core.Onnx;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeShortcut.Runtime.Onnx;

/// <summary>
/// One generation on an ONNX Runtime session. All buffers are pinned arrays allocated once, sized
/// for n_ctx: two sets of caches (the past being read, the present being written, swapped after
/// each run), the input ids and the logits. Each run binds OrtValues that wrap these buffers with
/// the step's shapes through one <see cref="OrtIoBinding"/>, so ONNX Runtime writes its outputs in
/// place. The present OrtValues of one step are the past OrtValues of the next (same buffer, same
/// shape <c>[1, H, (P+T)*e, hd]</c>), so only half the cache wrappers are created per step.
/// </summary>
internal sealed class OnnxRuntimeSequence : IInferenceSequence
{
    private readonly OnnxRuntimeBackend _backend;
    private readonly OnnxCache[] _caches;
    private readonly int _heads, _headDim, _vocab, _contextLength;
    private readonly float[][] _past, _present;   // [caches][H * n_ctx * e * hd], contiguous [1, H, P*e, hd] prefix
    private readonly long[] _ids;                  // [n_ctx]
    private readonly float[] _logits;              // [n_ctx * V]
    private readonly OrtValue[] _pastValues;       // wrappers of _past with the current shapes
    private readonly OrtValue?[] _presentValues;   // wrappers of _present for the running step
    private readonly long[] _idsShape = [1, 0], _logitsShape = [1, 0, 0], _cacheShape = [1, 0, 0, 0];
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _runOptions = new() { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
    private bool _disposed;

    public OnnxRuntimeSequence(OnnxRuntimeBackend backend)
    {
        _backend = backend;
        var c = backend.Config;
        _caches = backend.Caches;
        (_heads, _headDim, _vocab, _contextLength) = (c.Heads, c.HeadDim, c.VocabSize, c.ContextLength);
        _past = new float[_caches.Length][];
        _present = new float[_caches.Length][];
        for (int i = 0; i < _caches.Length; i++)
        {
            int size = _heads * _contextLength * _caches[i].EntriesPerPosition * _headDim;
            _past[i] = GC.AllocateArray<float>(size, pinned: true);
            _present[i] = GC.AllocateArray<float>(size, pinned: true);
        }
        _ids = GC.AllocateArray<long>(_contextLength, pinned: true);
        _logits = GC.AllocateArray<float>(_contextLength * _vocab, pinned: true);
        _pastValues = new OrtValue[_caches.Length];
        _presentValues = new OrtValue?[_caches.Length];
        _binding = backend.Session.CreateIoBinding();
        WrapEmptyPast();
    }

    /// <inheritdoc />
    public int Length { get; private set; }

    /// <inheritdoc />
    public ReadOnlySpan<float> Append(ReadOnlySpan<int> tokens) => AppendAll(tokens)[^_vocab..];

    /// <summary>Like <see cref="Append"/>, but returns the logits of every appended token, <c>[T, V]</c>
    /// row-major (teacher-forced scoring of a window in one run: the quantizer's validation, the tests).
    /// The span is valid until the next call.</summary>
    public ReadOnlySpan<float> AppendAll(ReadOnlySpan<int> tokens)
    {
        _backend.EnterRun();   // throws ObjectDisposedException once the model is disposed
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return Run(tokens);
        }
        catch (OnnxRuntimeException) when (_backend.IsDisposing)
        {
            throw new ObjectDisposedException(nameof(EdgeModel), "The model was disposed while this sequence was running.");
        }
        catch (OnnxRuntimeException e)
        {
            // The file passed every load-time check but ONNX Runtime cannot run it: report the file, not a native trace.
            throw new CheckpointFormatException(_backend.Path, $"ONNX Runtime failed to run the model: {e.Message}", e);
        }
        finally { _backend.ExitRun(); }
    }

    private ReadOnlySpan<float> Run(ReadOnlySpan<int> tokens)
    {
        int t = tokens.Length, p = Length;
        if (t == 0) throw new ArgumentException("Append needs at least one token.", nameof(tokens));
        if (p + t > _contextLength) throw new ArgumentException($"{p} cached + {t} new tokens exceed n_ctx = {_contextLength}.", nameof(tokens));
        for (int i = 0; i < t; i++) _ids[i] = tokens[i];

        OrtValue? ids = null, logits = null;
        try
        {
            _idsShape[1] = t;
            ids = Wrap(_ids, _idsShape, t);
            _logitsShape[1] = t; _logitsShape[2] = _vocab;
            logits = Wrap(_logits, _logitsShape, t * _vocab);
            _binding.BindInput(OnnxNames.InputIds, ids);
            _binding.BindOutput(OnnxNames.Logits, logits);
            for (int i = 0; i < _caches.Length; i++)
            {
                var present = _presentValues[i] = WrapCache(_present[i], p + t, _caches[i].EntriesPerPosition);
                _binding.BindInput(_caches[i].PastName, _pastValues[i]);
                _binding.BindOutput(_caches[i].PresentName, present);
            }
            if (_backend.RunLock is { } gate)
                lock (gate) _backend.Session.RunWithBinding(_runOptions, _binding);
            else
                _backend.Session.RunWithBinding(_runOptions, _binding);
        }
        catch
        {
            for (int i = 0; i < _caches.Length; i++) { _presentValues[i]?.Dispose(); _presentValues[i] = null; }
            throw;
        }
        finally
        {
            _binding.ClearBoundInputs();
            _binding.ClearBoundOutputs();
            ids?.Dispose();
            logits?.Dispose();
        }

        // The presents become the pasts: swap the buffer sets and keep the new wrappers.
        for (int i = 0; i < _caches.Length; i++)
        {
            _pastValues[i].Dispose();
            _pastValues[i] = _presentValues[i]!;
            _presentValues[i] = null;
            (_past[i], _present[i]) = (_present[i], _past[i]);
        }
        Length = p + t;
        return _logits.AsSpan(0, t * _vocab);
    }

    /// <inheritdoc />
    public void Reset()
    {
        _backend.EnterRun();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            foreach (var v in _pastValues) v.Dispose();
            Length = 0;
            WrapEmptyPast();
        }
        finally { _backend.ExitRun(); }
    }

    /// <summary>Asks a run in progress on another thread to stop (the backend is being disposed).</summary>
    internal void Terminate()
    {
        try { _runOptions.Terminate = true; }
        catch (ObjectDisposedException) { /* already freed by its owner */ }
    }

    private void WrapEmptyPast()
    {
        for (int i = 0; i < _caches.Length; i++) _pastValues[i] = WrapCache(_past[i], 0, _caches[i].EntriesPerPosition);
    }

    /// <summary>Wraps the first <c>H * positions * e * hd</c> floats of a cache buffer as <c>[1, H, positions*e, hd]</c>.</summary>
    private OrtValue WrapCache(float[] buffer, int positions, int entriesPerPosition)
    {
        _cacheShape[1] = _heads;
        _cacheShape[2] = (long)positions * entriesPerPosition;
        _cacheShape[3] = _headDim;
        return Wrap(buffer, _cacheShape, _heads * positions * entriesPerPosition * _headDim);
    }

    /// <summary>An OrtValue over the start of a pinned array (ORT copies the shape, so the shape array is reused).</summary>
    private static unsafe OrtValue Wrap<T>(T[] pinned, long[] shape, int elements) where T : unmanaged
    {
        var type = typeof(T) == typeof(long) ? TensorElementType.Int64 : TensorElementType.Float;
        var data = (IntPtr)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));
        return OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, type, shape, data, (long)elements * sizeof(T));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try { _backend.EnterRun(); }
        catch (ObjectDisposedException) { return; }   // the backend already freed this sequence's native objects
        try
        {
            ReleaseNative();
            _backend.Forget(this);
        }
        finally { _backend.ExitRun(); }
    }

    /// <summary>Frees the native objects; called by <see cref="Dispose"/> or, with no run in progress, by the backend's Dispose.</summary>
    internal void ReleaseNative()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var v in _pastValues) v?.Dispose();
        _binding.Dispose();
        _runOptions.Dispose();
    }
}
