namespace EdgeShortcut.ManagedBench;

/// <summary>
/// The order in which an interleaved benchmark runs its contenders in one round: as listed in even rounds, reversed in odd
/// ones. A contender's place in the round cost or gained it 3-4.5% on the Zen 2 VM (one that followed a one-thread
/// contender found the second core, idle meanwhile, slow to wake: docs/BENCHMARKS.md, "Sixteenth session"); reversing
/// every other round cancels that over two rounds.
/// </summary>
internal static class RoundOrder
{
    /// <summary>The indices 0..<paramref name="count"/>-1 in round <paramref name="round"/>'s order (any integer round).</summary>
    public static IEnumerable<int> Of(int count, int round)
    {
        for (int k = 0; k < count; k++) yield return round % 2 == 0 ? k : count - 1 - k;
    }
}
