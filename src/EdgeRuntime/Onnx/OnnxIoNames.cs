using EdgeShortcut.Core;

namespace EdgeShortcut.Runtime.Onnx;

/// <summary>One cache tensor of the ONNX graph: its input and output names and how many entries it
/// holds per position (1 for an ordinary block, |S| for the shortcut cache).</summary>
internal readonly record struct OnnxCache(string PastName, string PresentName, int EntriesPerPosition);

/// <summary>The graph's input and output names (FORMAT.md section 5), in one place.</summary>
internal static class OnnxIoNames
{
    public const string InputIds = "input_ids";
    public const string Logits = "logits";

    /// <summary>Caches in binding order: key.i, value.i for each ordinary block, then the shortcut key and value.</summary>
    public static OnnxCache[] Caches(ModelConfig c)
    {
        var caches = new List<OnnxCache>();
        for (int i = 0; i < c.SelfAttentionBlocks; i++)
        {
            caches.Add(new($"past_key.{i}", $"present_key.{i}", 1));
            caches.Add(new($"past_value.{i}", $"present_value.{i}", 1));
        }
        if (c.IsShortcut)
        {
            caches.Add(new("past_shortcut_key", "present_shortcut_key", c.TapCount));
            caches.Add(new("past_shortcut_value", "present_shortcut_value", c.TapCount));
        }
        return [.. caches];
    }
}
