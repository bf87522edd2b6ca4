namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>The check both matvec kernels' range tests make: a decode job hands each thread a range of row groups, so every
/// (start, end) of the matrix must give the reference's bits on its own rows and leave every other row untouched.</summary>
internal static class RowGroupRanges
{
    /// <summary>Runs <paramref name="compute"/> (groups g0..g1-1 into y) for every 0 &lt;= g0 &lt;= g1 &lt;= <paramref name="groups"/>
    /// on a y of NaNs and asserts the rows of those groups equal <paramref name="reference"/> and the rest stay NaN.</summary>
    public static void AssertEachGivesOnlyItsRows(int groups, int groupRows, float[] reference, Action<int, int, float[]> compute, string what)
    {
        int rows = reference.Length;
        for (int g0 = 0; g0 <= groups; g0++)
            for (int g1 = g0; g1 <= groups; g1++)
            {
                var y = Enumerable.Repeat(float.NaN, rows).ToArray();
                compute(g0, g1, y);
                int r0 = g0 * groupRows, r1 = Math.Min(rows, g1 * groupRows);
                for (int r = 0; r < rows; r++)
                {
                    bool inRange = r >= r0 && r < r1;
                    Assert.True(inRange ? y[r] == reference[r] : float.IsNaN(y[r]),
                        $"{what} groups {g0}..{g1}: row {r} is {y[r]}, expected {(inRange ? reference[r] : float.NaN)}");
                }
            }
    }
}
