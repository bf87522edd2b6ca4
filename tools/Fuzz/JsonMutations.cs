using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EdgeShortcut.Fuzz;

/// <summary>Structure-aware mutations of a JSON document: a random value anywhere in the tree is
/// replaced by an interesting one (huge, negative, fractional, wrong type, null), a property removed,
/// renamed or duplicated, an array grown or emptied; the result is valid JSON with bad content. A
/// few mutations stay at the text level (duplicate keys, bad UTF-8, cut text).</summary>
public static class JsonMutations
{
    private static readonly Func<Random, JsonNode?>[] Values =
    [
        _ => 0, _ => -1, _ => 1, _ => 2, _ => int.MaxValue, _ => long.MaxValue, _ => -long.MaxValue, _ => 1e308, _ => 1e-308, _ => 0.5, _ => -0.0,
        _ => 65536, _ => 1 << 20, _ => 4294967296L, _ => null, _ => true, _ => "", _ => "x", _ => "F16", _ => "byte", _ => "token-file", _ => "\u0000",
        _ => new JsonArray(), _ => new JsonObject(), r => new JsonArray(1, 2, 3), r => new JsonArray(r.Next(-2, 9), r.Next(-2, 9)),
        r => r.Next(-5, 300), r => r.NextDouble() * 10, r => Convert.ToBase64String(ByteMutations.RandomBytes(r, r.Next(0, 64))),
    ];

    /// <summary>One mutation of the UTF-8 JSON <paramref name="json"/>.</summary>
    public static byte[] Mutate(byte[] json, Random r)
    {
        if (r.Next(8) == 0) return TextLevel(json, r);
        JsonNode? root;
        try { root = JsonNode.Parse(json); }
        catch (JsonException) { return ByteMutations.Mutate(json, r); }
        if (root is null) return ByteMutations.Mutate(json, r);
        int rounds = 1 + (r.Next(4) == 0 ? r.Next(3) : 0);
        for (int i = 0; i < rounds && root is not null; i++) root = MutateTree(root, r);
        try { return Encoding.UTF8.GetBytes(root?.ToJsonString() ?? "null"); }
        catch (ArgumentException) { return ByteMutations.Mutate(json, r); }   // a nudge reached infinity, which JSON cannot hold
    }

    private static JsonNode? MutateTree(JsonNode root, Random r)
    {
        var nodes = new List<JsonNode>();
        Collect(root, nodes);
        var target = nodes[r.Next(nodes.Count)];
        var parent = target.Parent;
        switch (r.Next(5))
        {
            case 0 when parent is JsonObject obj:        // remove a property
                obj.Remove(target.GetPropertyName());
                return root;
            case 1 when parent is JsonObject obj:        // rename a property
                {
                    string name = target.GetPropertyName();
                    obj.Remove(name);
                    obj[name + (r.Next(2) == 0 ? "_" : "")] = target;
                    return root;
                }
            case 2 when target is JsonArray arr:         // grow or empty an array
                if (r.Next(2) == 0) arr.Clear(); else arr.Add(Values[r.Next(Values.Length)](r));
                return root;
            case 3 when target is JsonValue v && v.TryGetValue(out double d):   // nudge a number
                Replace(root, target, JsonValue.Create(r.Next(3) switch { 0 => d + 1, 1 => d - 1, _ => d * 2 }));
                return root;
            default:                                     // replace a value
                var replacement = Values[r.Next(Values.Length)](r);
                if (target == root) return replacement ?? JsonValue.Create(0);
                Replace(root, target, replacement);
                return root;
        }
    }

    private static void Replace(JsonNode root, JsonNode target, JsonNode? replacement)
    {
        switch (target.Parent)
        {
            case JsonObject obj: obj[target.GetPropertyName()] = replacement; break;
            case JsonArray arr: arr[target.GetElementIndex()] = replacement; break;
        }
    }

    private static void Collect(JsonNode? node, List<JsonNode> into)
    {
        if (node is null) return;
        into.Add(node);
        if (node is JsonObject obj) foreach (var (_, child) in obj.ToList()) Collect(child, into);
        else if (node is JsonArray arr) foreach (var child in arr.ToList()) Collect(child, into);
    }

    private static byte[] TextLevel(byte[] json, Random r)
    {
        string text = Encoding.UTF8.GetString(json);
        switch (r.Next(4))
        {
            case 0:   // duplicate the first property of the top-level object
                {
                    int open = text.IndexOf('{'), comma = text.IndexOf(',', open + 1);
                    if (open < 0 || comma < 0) break;
                    string first = text[(open + 1)..comma];
                    return Encoding.UTF8.GetBytes(text.Insert(open + 1, first + ","));
                }
            case 1:   // invalid UTF-8 inside a string
                {
                    int quote = text.IndexOf('"', r.Next(Math.Max(1, text.Length)));
                    if (quote < 0) break;
                    var bytes = Encoding.UTF8.GetBytes(text[..(quote + 1)]).Concat(new byte[] { 0xC3, 0x28, 0xFF }).Concat(Encoding.UTF8.GetBytes(text[(quote + 1)..])).ToArray();
                    return bytes;
                }
            case 2:   // cut the text
                return Encoding.UTF8.GetBytes(text[..r.Next(text.Length + 1)]);
        }
        return ByteMutations.Mutate(json, r);
    }
}
