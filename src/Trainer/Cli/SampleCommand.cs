using System.CommandLine;
using EdgeShortcut.Core;
using EdgeShortcut.Trainer.Model;
using static EdgeShortcut.Trainer.Cli.CliOptions;

namespace EdgeShortcut.Trainer.Cli;

/// <summary><c>sample</c>: generate text with the fp32 TorchSharp model (the reference for the runtimes).
/// The generation flags are spelled as in the console sample (samples/Console): the prompt is the
/// positional argument, and <c>--max-new-tokens/-n</c>, <c>--temperature/-t</c>, <c>--top-k</c>,
/// <c>--seed/-s</c> mean what the runtime's <c>GenerationOptions</c> of the same names mean.</summary>
internal static class SampleCommand
{
    public static Command Create()
    {
        var checkpoint = Plain<string>("--checkpoint", "Checkpoint directory.", required: true);
        var prompt = new Argument<string>("prompt")
        {
            Description = "Text to continue (byte tokenizer), or space-separated ids for a token-file model.",
            DefaultValueFactory = _ => "\n",
        };
        var maxNewTokens = With("--max-new-tokens", 200, "New tokens to generate.", "-n");
        var temperature = With("--temperature", 0.8, "Sampling temperature (0 = greedy).", "-t");
        var topK = With("--top-k", 0, "Sample only among the k most likely tokens (0 = all).");
        var seed = With("--seed", 0L, "Sampling seed.", "-s");
        var cmd = new Command("sample", "Generate from a checkpoint with the fp32 model.") { checkpoint, maxNewTokens, temperature, topK, seed, prompt };
        cmd.SetAction(r =>
        {
            // The flags are checked here, by name, before the model loads; TextGenerator checks the same rules.
            Require(r.GetValue(maxNewTokens) >= 0, "--max-new-tokens", $"must be >= 0 (got {r.GetValue(maxNewTokens)})");
            Require(SamplingLimits.IsValidTemperature(r.GetValue(temperature)), "--temperature", $"{SamplingLimits.TemperatureRule} (got {r.GetValue(temperature)})");
            Require(r.GetValue(topK) >= 0, "--top-k", $"must be >= 0, 0 = all tokens (got {r.GetValue(topK)})");
            using var model = ModelCheckpoint.Load(r.GetValue(checkpoint)!, out var config);
            bool bytes = config.Tokenizer.Kind == TokenizerSpec.ByteKind;
            string text = r.GetValue(prompt)!;
            int[] ids = bytes ? ByteTokenizer.Encode(text)
                : text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => int.TryParse(s, out int i) ? i : throw new ArgumentException($"prompt: '{s}' is not a token id (a token-file model takes space-separated ids).")).ToArray();
            if (ids.Length == 0) throw new ArgumentException("The prompt must not be empty.");
            var decoder = new Utf8StreamDecoder();
            Console.Write(text);
            foreach (int id in TextGenerator.Generate(model, ids, r.GetValue(maxNewTokens), r.GetValue(temperature), r.GetValue(topK), r.GetValue(seed)))
                Console.Write(bytes ? decoder.Push(id) : $" {id}");
            if (bytes) Console.Write(decoder.Flush());
            Console.WriteLine();
            return 0;
        });
        return cmd;
    }
}
