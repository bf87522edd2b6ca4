using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// An array whose first element sits on a cache-line boundary (<see cref="Alignment"/> bytes), for the weights the kernels
/// stream (packed int8 and float32). Why: a .NET array's elements start 16 bytes after its header, so every
/// 512-bit load of one straddles two cache lines (and every other 256-bit load). Reading an 85 MB model's packed weights
/// with 512-bit loads ran at 26-31 GB/s from arrays, 40-47 GB/s from the same bytes at a 64-byte boundary (one thread,
/// docs/BENCHMARKS.md, tenth session). The storage is allocated on the pinned object heap, so it never moves and the
/// aligned start found at construction holds for its lifetime; that also makes <see cref="Pointer"/> safe to keep.
/// </summary>
internal sealed unsafe class AlignedArray<T> where T : unmanaged
{
    /// <summary>Bytes: one cache line, the width of a 512-bit load.</summary>
    public const int Alignment = 64;

    private readonly T[] _storage;
    private readonly int _offset;   // elements before the aligned start

    /// <summary>A zeroed array of <paramref name="length"/> elements (<paramref name="zeroed"/> false: contents undefined,
    /// for data the caller overwrites at once).</summary>
    public AlignedArray(long length, bool zeroed = true)
    {
        int slack = Alignment / sizeof(T);
        if (length < 0 || length > Array.MaxLength - slack)
            throw new NotSupportedException($"{length} elements of {sizeof(T)} bytes exceed the largest .NET array.");
        _storage = zeroed ? GC.AllocateArray<T>((int)length + slack, pinned: true)
            : GC.AllocateUninitializedArray<T>((int)length + slack, pinned: true);
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_storage));
        _offset = (int)((Alignment - address % Alignment) % Alignment / sizeof(T));
        Length = (int)length;
    }

    /// <summary>Elements.</summary>
    public int Length { get; }

    /// <summary>The elements.</summary>
    public Span<T> Span => _storage.AsSpan(_offset, Length);

    /// <summary>The first element (64-byte aligned).</summary>
    public ref T Reference => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_storage), _offset);

    /// <summary>The first element's address (64-byte aligned; the storage is pinned, so it stays valid while this lives).</summary>
    public T* Pointer => (T*)Unsafe.AsPointer(ref Reference);

    /// <summary>Element <paramref name="index"/> (bounds-checked). Not for hot loops: every call reads this object's fields
    /// again (the JIT cannot hoist them past the element stores), and a small object can share a cache line with data
    /// another thread writes; take <see cref="Span"/> or <see cref="Reference"/> once instead.</summary>
    public ref T this[long index]
    {
        get
        {
            if ((ulong)index >= (ulong)Length) throw new IndexOutOfRangeException($"Index {index} is outside 0..{Length - 1}.");
            return ref Unsafe.Add(ref Reference, (nint)index);
        }
    }

    /// <summary><see cref="Span"/> from <paramref name="start"/>, <paramref name="length"/> elements.</summary>
    public Span<T> AsSpan(int start, int length) => Span.Slice(start, length);
}
