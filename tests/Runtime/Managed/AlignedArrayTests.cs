using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>The data the kernels stream starts on a cache-line boundary, so that no 512-bit load of it straddles two
/// lines (a .NET array's elements start 16 bytes after its header): packed int8 weights and float32 weights.</summary>
public unsafe class AlignedArrayTests
{
    private static bool OnCacheLine(void* p) => (nint)p % 64 == 0;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(1000)]
    [InlineData(100_003)]
    public void Every_element_type_starts_on_a_64_byte_boundary_and_is_zeroed(int length)
    {
        var bytes = new AlignedArray<byte>(length);
        var floats = new AlignedArray<float>(length);
        var halves = new AlignedArray<ushort>(length);
        Assert.True(OnCacheLine(bytes.Pointer) && OnCacheLine(floats.Pointer) && OnCacheLine(halves.Pointer));
        Assert.Equal(length, bytes.Span.Length);
        Assert.Equal(length, floats.Length);
        Assert.True(floats.Span.IndexOfAnyExcept(0f) < 0 && halves.Span.IndexOfAnyExcept((ushort)0) < 0);
    }

    [Fact]
    public void The_start_stays_put_through_compacting_collections()
    {
        var arrays = Enumerable.Range(1, 50).Select(i => new AlignedArray<float>(i * 37)).ToArray();
        var before = arrays.Select(a => (nint)a.Pointer).ToArray();
        for (int i = 0; i < 3; i++)
        {
            _ = Enumerable.Range(0, 10_000).Select(j => new byte[j % 500]).ToList();   // garbage to compact around
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        }
        Assert.Equal(before, arrays.Select(a => (nint)a.Pointer));
        Assert.All(arrays, a => Assert.True(OnCacheLine(a.Pointer)));
    }

    [Fact]
    public void The_indexer_is_bounds_checked()
    {
        var a = new AlignedArray<float>(4);
        a[3] = 2f;
        Assert.Equal(2f, a.Span[3]);
        Assert.Throws<IndexOutOfRangeException>(() => a[4]);
        Assert.Throws<IndexOutOfRangeException>(() => a[-1]);
        Assert.Throws<NotSupportedException>(() => new AlignedArray<float>(-1));
    }

    [Fact]
    public void Packed_weights_and_float32_weights_start_on_a_cache_line()
    {
        var w = new sbyte[40 * 70];
        var scales = Enumerable.Repeat(0.5f, 40).ToArray();
        Assert.True(OnCacheLine(new PackedInt8Matrix(w, 40, 70, scales, []).Data.Pointer));
        Assert.True(OnCacheLine(new ColumnPackedInt8Matrix(w, 40, 70, scales, []).Data.Pointer));
        Assert.True(OnCacheLine(new Fp32Linear("m", 40, 70, new float[40 * 70], []).Weights.Pointer));
    }
}
