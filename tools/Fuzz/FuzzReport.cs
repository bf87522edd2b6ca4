namespace EdgeShortcut.Fuzz;

/// <summary>What a fuzz run of one target found.</summary>
/// <param name="Target">The target's name.</param>
/// <param name="Cases">Cases run.</param>
/// <param name="Outcomes">Count per outcome: <c>accepted</c>, or the exception type's name.</param>
/// <param name="Findings">Every untyped exception, hang or oversized allocation, with its case.</param>
/// <param name="Elapsed">Wall time of the run.</param>
public sealed record FuzzReport(string Target, int Cases, IReadOnlyDictionary<string, int> Outcomes, IReadOnlyList<FuzzFinding> Findings, TimeSpan Elapsed);

/// <summary>One finding: the case that caused it (reproducible from the seed and index, and saved).</summary>
/// <param name="Kind"><c>untyped exception</c>, <c>hang</c> or <c>oversized allocation</c>.</param>
/// <param name="Case">Index of the case in its run (the run's seed and this index reproduce it).</param>
/// <param name="Detail">The exception or the measurement.</param>
/// <param name="Input">The input bytes (saved as a reproducer).</param>
public sealed record FuzzFinding(string Kind, int Case, string Detail, byte[] Input);
