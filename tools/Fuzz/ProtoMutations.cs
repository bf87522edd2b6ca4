namespace EdgeShortcut.Fuzz;

/// <summary>
/// Structure-aware mutations of protobuf bytes (ONNX files): the message is parsed into a tree of
/// fields (length-delimited payloads that parse as messages become subtrees), one field is changed
/// (an interesting varint, deleted, duplicated, its payload mutated, swapped with a sibling) and the
/// tree is written back with every length recomputed, so the damage is in the content, not the framing.
/// </summary>
public static class ProtoMutations
{
    private sealed class Field
    {
        public int Number, Wire;
        public ulong Value;                 // varint, fixed32, fixed64
        public byte[] Bytes = [];           // length-delimited payload
        public List<Field>? Children;       // the payload parsed as a message
    }

    /// <summary>One mutation of <paramref name="proto"/>; falls back to a byte mutation when it does not parse.</summary>
    public static byte[] Mutate(byte[] proto, Random r)
    {
        var root = Parse(proto, 0);
        if (root is null || root.Count == 0) return ByteMutations.Mutate(proto, r);
        var all = new List<(List<Field> Siblings, Field Field)>();
        Collect(root, all);
        var (siblings, f) = all[r.Next(all.Count)];
        switch (r.Next(6))
        {
            case 0: siblings.Remove(f); break;
            case 1: siblings.Insert(siblings.IndexOf(f), Clone(f)); break;
            case 2 when siblings.Count > 1:
                {
                    int a = siblings.IndexOf(f), b = r.Next(siblings.Count);
                    (siblings[a], siblings[b]) = (siblings[b], siblings[a]);
                    break;
                }
            case 3 when f.Wire is 0 or 1 or 5:
                f.Value = (ulong)ByteMutations.InterestingIntegers[r.Next(ByteMutations.InterestingIntegers.Length)];
                if (f.Wire == 5) f.Value &= uint.MaxValue;
                break;
            case 4 when f.Wire == 2:
                f.Children = null;
                f.Bytes = r.Next(3) == 0 ? [] : ByteMutations.Mutate(f.Bytes, r);
                break;
            default:
                if (f.Wire == 0) f.Value = r.Next(3) switch { 0 => f.Value + 1, 1 => f.Value - 1, _ => f.Value * 2 };
                else if (f.Wire == 2 && f.Children is null) f.Bytes = ByteMutations.Mutate(f.Bytes, r);
                else f.Number = r.Next(1, 20);
                break;
        }
        var output = new MemoryStream();
        Write(root, output);
        return output.ToArray();
    }

    private static List<Field>? Parse(ReadOnlySpan<byte> data, int depth)
    {
        var fields = new List<Field>();
        int pos = 0;
        while (pos < data.Length)
        {
            if (!TryVarint(data, ref pos, out ulong tag)) return null;
            var f = new Field { Number = (int)(tag >> 3), Wire = (int)(tag & 7) };
            if (f.Number is < 1 or > 1000) return null;
            switch (f.Wire)
            {
                case 0: if (!TryVarint(data, ref pos, out f.Value)) return null; break;
                case 1: if (pos + 8 > data.Length) return null; f.Value = BitConverter.ToUInt64(data.Slice(pos, 8)); pos += 8; break;
                case 5: if (pos + 4 > data.Length) return null; f.Value = BitConverter.ToUInt32(data.Slice(pos, 4)); pos += 4; break;
                case 2:
                    if (!TryVarint(data, ref pos, out ulong len) || len > (ulong)(data.Length - pos)) return null;
                    f.Bytes = data.Slice(pos, (int)len).ToArray();
                    pos += (int)len;
                    if (depth < 6 && len > 0 && len <= 1 << 16) f.Children = Parse(f.Bytes, depth + 1);
                    break;
                default: return null;
            }
            fields.Add(f);
        }
        return fields;
    }

    private static void Collect(List<Field> fields, List<(List<Field>, Field)> into)
    {
        foreach (var f in fields)
        {
            into.Add((fields, f));
            if (f.Children is not null) Collect(f.Children, into);
        }
    }

    private static Field Clone(Field f) => new()
    {
        Number = f.Number, Wire = f.Wire, Value = f.Value, Bytes = f.Bytes,
        Children = f.Children?.Select(Clone).ToList(),
    };

    private static void Write(List<Field> fields, Stream s)
    {
        foreach (var f in fields)
        {
            WriteVarint(s, ((ulong)f.Number << 3) | (uint)f.Wire);
            switch (f.Wire)
            {
                case 0: WriteVarint(s, f.Value); break;
                case 1: s.Write(BitConverter.GetBytes(f.Value)); break;
                case 5: s.Write(BitConverter.GetBytes((uint)f.Value)); break;
                case 2:
                    byte[] payload = f.Bytes;
                    if (f.Children is not null)
                    {
                        var inner = new MemoryStream();
                        Write(f.Children, inner);
                        payload = inner.ToArray();
                    }
                    WriteVarint(s, (ulong)payload.Length);
                    s.Write(payload);
                    break;
            }
        }
    }

    private static bool TryVarint(ReadOnlySpan<byte> data, ref int pos, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64 && pos < data.Length; shift += 7)
        {
            byte b = data[pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return true;
        }
        return false;
    }

    private static void WriteVarint(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }
}
