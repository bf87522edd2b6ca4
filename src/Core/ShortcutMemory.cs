namespace EdgeShortcut.Core;

/// <summary>
/// How the shortcut block's memory is laid out (PAPER.md; FORMAT.md sections 4 and 5), the one
/// definition every engine uses: the trainer's model, the ONNX graph builder, the managed engine and
/// the test reference.
/// <code>
/// tap j (0-based index into Taps) reads x_{Taps[j]}, the output of ordinary block Taps[j] - 1 (0-based)
/// memory entry e = tau * |S| + j belongs to position tau = e / |S| and tap j = e % |S|   # position-major
/// </code>
/// </summary>
internal static class ShortcutMemory
{
    /// <summary>The 0-based ordinary block whose output feeds tap <paramref name="tap"/>.</summary>
    public static int SourceBlock(ModelConfig c, int tap) => c.Taps[tap] - 1;

    /// <summary>For each ordinary block (0-based), the tap it feeds, or -1 when it is not tapped.
    /// Length <see cref="ModelConfig.SelfAttentionBlocks"/>.</summary>
    public static int[] TapOfBlock(ModelConfig c)
    {
        var tapOf = new int[c.SelfAttentionBlocks];
        Array.Fill(tapOf, -1);
        for (int j = 0; j < c.TapCount; j++) tapOf[SourceBlock(c, j)] = j;
        return tapOf;
    }

    /// <summary>Index of the memory entry of tap <paramref name="tap"/> at position <paramref name="position"/>.</summary>
    public static int Entry(int position, int tap, int tapCount) => position * tapCount + tap;

    /// <summary>The position an entry belongs to.</summary>
    public static int PositionOf(int entry, int tapCount) => entry / tapCount;

    /// <summary>The tap an entry belongs to.</summary>
    public static int TapOf(int entry, int tapCount) => entry % tapCount;

    /// <summary>Number of memory entries of the first <paramref name="positions"/> positions.</summary>
    public static int EntriesUpTo(int positions, int tapCount) => positions * tapCount;
}
