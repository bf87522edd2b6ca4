using System.Buffers.Binary;

namespace EdgeShortcut.Fuzz;

/// <summary>Format-blind mutations of a byte array: bit flips, interesting bytes and integers at
/// aligned offsets, non-finite floats, truncation, insertion, deletion and chunk duplication.</summary>
public static class ByteMutations
{
    /// <summary>Integers that break size arithmetic: zero, one, sign boundaries, powers of two, all ones.</summary>
    public static readonly long[] InterestingIntegers =
        [0, 1, -1, 2, 7, 8, 255, 256, 65535, 65536, int.MaxValue, int.MinValue, uint.MaxValue, 1L << 32, 1L << 40, long.MaxValue, long.MinValue, 16777217];

    /// <summary>One random format-blind mutation of <paramref name="data"/> (a new array).</summary>
    public static byte[] Mutate(byte[] data, Random r)
    {
        var b = data.ToList();
        if (b.Count == 0) return [(byte)r.Next(256)];
        switch (r.Next(10))
        {
            case 0:   // flip one bit
                { int i = r.Next(b.Count); b[i] ^= (byte)(1 << r.Next(8)); break; }
            case 1:   // an interesting byte
                { int i = r.Next(b.Count); b[i] = new byte[] { 0, 0xFF, 0x7F, 0x80, (byte)'"', (byte)'{', (byte)'\\' }[r.Next(7)]; break; }
            case 2:   // an interesting 32- or 64-bit integer at a 4-byte-aligned offset
                {
                    long v = InterestingIntegers[r.Next(InterestingIntegers.Length)];
                    int width = r.Next(2) == 0 ? 4 : 8;
                    if (b.Count < width) break;
                    int at = r.Next((b.Count - width) / 4 + 1) * 4;
                    var arr = b.ToArray();
                    if (width == 4) BinaryPrimitives.WriteInt32LittleEndian(arr.AsSpan(at), (int)v);
                    else BinaryPrimitives.WriteInt64LittleEndian(arr.AsSpan(at), v);
                    return arr;
                }
            case 3:   // a non-finite or extreme float at an aligned offset
                {
                    if (b.Count < 4) break;
                    var arr = b.ToArray();
                    float v = new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -0f, float.Epsilon, 1e30f }[r.Next(7)];
                    BinaryPrimitives.WriteSingleLittleEndian(arr.AsSpan(r.Next((arr.Length - 4) / 4 + 1) * 4), v);
                    return arr;
                }
            case 4:   // truncate
                return [.. b.Take(r.Next(b.Count))];
            case 5:   // append garbage
                return [.. b, .. RandomBytes(r, 1 + r.Next(16))];
            case 6:   // delete a range
                { int i = r.Next(b.Count); b.RemoveRange(i, Math.Min(b.Count - i, 1 + r.Next(16))); break; }
            case 7:   // insert a range
                { b.InsertRange(r.Next(b.Count + 1), RandomBytes(r, 1 + r.Next(16))); break; }
            case 8:   // duplicate a chunk elsewhere
                {
                    int i = r.Next(b.Count), n = Math.Min(b.Count - i, 1 + r.Next(64));
                    b.InsertRange(r.Next(b.Count + 1), b.GetRange(i, n));
                    break;
                }
            default:  // overwrite a range with random bytes
                {
                    int i = r.Next(b.Count);
                    for (int k = i; k < Math.Min(b.Count, i + 1 + r.Next(8)); k++) b[k] = (byte)r.Next(256);
                    break;
                }
        }
        return [.. b];
    }

    /// <summary><paramref name="count"/> random bytes.</summary>
    public static byte[] RandomBytes(Random r, int count)
    {
        var bytes = new byte[count];
        r.NextBytes(bytes);
        return bytes;
    }
}
