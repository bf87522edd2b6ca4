using System.Buffers;
using System.IO.MemoryMappedFiles;

namespace EdgeShortcut.Core.Onnx;

/// <summary>
/// A read-only memory map of a whole file as <see cref="Memory{T}"/>, so a model can be parsed and packed
/// straight from the page cache (llama2.c maps its weights too): no managed copy of the file is made, and
/// once the map is disposed nothing of the file stays resident in this process. Valid until disposed;
/// every slice handed out (e.g. <see cref="OnnxTensor.RawData"/>) must be dropped first.
/// </summary>
internal sealed unsafe class MappedFileMemory : MemoryManager<byte>
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _pointer;
    private readonly int _length;
    private bool _disposed;

    private MappedFileMemory(MemoryMappedFile map, MemoryMappedViewAccessor view, int length)
    {
        _map = map;
        _view = view;
        _length = length;
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _pointer = p + view.PointerOffset;
    }

    /// <summary>Maps <paramref name="path"/> read-only. Throws <see cref="CheckpointFormatException"/> for a missing,
    /// empty or (beyond 2 GiB) oversized file.</summary>
    public static MappedFileMemory Open(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new CheckpointFormatException(path, "file not found");
        if (info.Length == 0) throw new CheckpointFormatException(path, "empty file: not an ONNX model");
        if (info.Length > int.MaxValue) throw new CheckpointFormatException(path, $"{info.Length} bytes: ONNX files beyond 2 GiB (protobuf's limit) are not supported");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, mapName: null, 0, MemoryMappedFileAccess.Read);
        try { return new MappedFileMemory(map, map.CreateViewAccessor(0, info.Length, MemoryMappedFileAccess.Read), (int)info.Length); }
        catch { map.Dispose(); throw; }
    }

    /// <inheritdoc />
    public override Span<byte> GetSpan()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new Span<byte>(_pointer, _length);
    }

    /// <inheritdoc />
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new MemoryHandle(_pointer + elementIndex);
    }

    /// <inheritdoc />
    public override void Unpin() { }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
