using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EdgeShortcut.Trainer.Data;
using EdgeShortcut.Trainer.Model;
using EdgeShortcut.Trainer.Training;
using static EdgeShortcut.Trainer.Cli.CliOptions;

namespace EdgeShortcut.Trainer.Cli;

/// <summary><c>eval</c>: mean NLL (nats/token) and bits per byte of a checkpoint on a corpus.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = Plain<string>("--checkpoint", "Checkpoint directory (config.json + model.safetensors).", required: true);
        var data = Plain<string?>("--data", "Corpus to evaluate [default: the validation split of the run's training data, from training_state.json].");
        var json = With("--json", false, "Print one JSON object {val_nll, val_bpb, tokens, windows} as the last line.");
        var batch = With("--batch", 16, "Windows per forward pass.");
        var threads = With("--threads", 0, "Torch threads (0 = all cores).");
        var cmd = new Command("eval", "Evaluate a checkpoint on fixed non-overlapping windows.") { checkpoint, data, json, batch, threads };
        cmd.SetAction(r =>
        {
            string dir = r.GetValue(checkpoint)!;
            Require(r.GetValue(batch) >= 1, "--batch", $"must be >= 1 (got {r.GetValue(batch)})");
            Require(r.GetValue(threads) >= 0, "--threads", $"must be >= 0 (got {r.GetValue(threads)})");
            if (r.GetValue(threads) is > 0 and var n) TorchSharp.torch.set_num_threads(n);
            using var model = ModelCheckpoint.Load(dir, out var config);
            TokenCorpus corpus;
            if (r.GetValue(data) is { } path) corpus = TokenCorpus.Load(path, config.Tokenizer);
            else
            {
                var options = TrainingCheckpoint.ReadState(dir).Options;
                corpus = Training.Trainer.LoadData(options).Validation;
            }
            var result = Evaluation.MeanNll(model, corpus, r.GetValue(batch));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{corpus.Source}: val_nll {result.MeanNll:F6} nats/token, val_bpb {result.BitsPerToken:F6} ({result.Tokens} tokens, {result.Windows} windows of {model.Config.ContextLength})"));
            if (r.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new { val_nll = result.MeanNll, val_bpb = result.BitsPerToken, tokens = result.Tokens, windows = result.Windows }));
            return 0;
        });
        return cmd;
    }
}
