using EdgeShortcut.Runtime;

namespace EdgeShortcut.ConsoleSample;

/// <summary>
/// Runs the managed engine and the ONNX Runtime CPU provider side by side on one model: the same
/// greedy continuation is expected, and the logits of every step are compared by normalized mean
/// squared error, sum((a-b)^2) / sum(a^2), over the steps where both saw the same context.
/// </summary>
internal static class ParityCommand
{
    public static int Run(string modelPath, string prompt, int tokens, double bound, ActivationPrecision activations)
    {
        // Checked here, by this command's own flag names (the library would blame --max-new-tokens).
        if (tokens < 1) throw new CliUsageException($"--tokens must be >= 1 (got {tokens})");
        if (!double.IsFinite(bound) || bound <= 0) throw new CliUsageException($"--bound must be a positive number (got {bound})");
        var runs = new[] { BackendKind.Cpu, BackendKind.Managed }.Select(kind =>
        {
            using var model = EdgeModel.Load(modelPath, new EdgeModelOptions { Backend = kind, Activations = activations });
            using var gen = model.CreateGenerator(GenerationOptions.Greedy with { MaxNewTokens = tokens, ContextOverflow = ContextOverflowPolicy.Error });
            gen.AppendText(prompt);
            var ids = new int[tokens];
            var logits = new float[tokens][];
            for (int i = 0; i < tokens; i++)
            {
                ids[i] = gen.NextToken();
                logits[i] = gen.Logits.ToArray();
            }
            return (Ids: ids, Logits: logits, Text: model.Tokenizer.Decode(ids));
        }).ToArray();

        var (cpu, managed) = (runs[0], runs[1]);
        int same = 0;
        while (same < tokens && cpu.Ids[same] == managed.Ids[same]) same++;
        // Step i's logits come from the same context only while all earlier tokens agree.
        double worst = 0, sum = 0;
        int compared = Math.Min(tokens, same + 1);
        for (int i = 0; i < compared; i++)
        {
            double nmse = Nmse(cpu.Logits[i], managed.Logits[i]);
            worst = Math.Max(worst, nmse);
            sum += nmse;
        }
        Console.WriteLine($"cpu:     {cpu.Text}");
        Console.WriteLine($"managed: {managed.Text}");
        Console.WriteLine($"greedy continuation: {(same == tokens ? $"identical for {tokens} tokens" : $"diverges at token {same}")}");
        Console.WriteLine($"logits NMSE over {compared} steps: max {worst:g3}, mean {sum / compared:g3} (bound {bound:g2})");
        return same == tokens && worst < bound ? 0 : 3;
    }

    private static double Nmse(float[] a, float[] b)
    {
        double err = 0, norm = 0;
        for (int i = 0; i < a.Length; i++) { err += (double)(a[i] - b[i]) * (a[i] - b[i]); norm += (double)a[i] * a[i]; }
        return err / norm;
    }
}
