using EdgeShortcut.Trainer.Training;
using Spectre.Console;

namespace EdgeShortcut.Trainer.Cli;

/// <summary>Shows a training run: a Spectre.Console live progress bar (step, loss, val loss, tokens/s,
/// ETA) on a terminal, plain lines when output is redirected. Ctrl+C stops after the current step
/// and still writes <c>last/</c>.</summary>
internal static class TrainView
{
    public static int Run(Training.Trainer trainer)
    {
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            TrainingResult result;
            if (AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected)
            {
                result = null!;
                AnsiConsole.Progress()
                    .AutoClear(false)
                    .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask("starting", maxValue: 1);
                        string val = "-";
                        result = trainer.Run(p =>
                        {
                            if (p.Validation is { } v) { val = $"{v.MeanNll:F3}"; AnsiConsole.MarkupLine($"[grey]step {p.Step}: val_nll {v.MeanNll:F4} nats/token, {v.BitsPerToken:F4} bpb, best {p.BestValNll:F4}[/]"); }
                            task.MaxValue = p.TotalSteps;
                            task.Value = p.Step;
                            task.Description = Markup.Escape($"step {p.Step}/{p.TotalSteps} loss {p.TrainLoss:F3} val {val} {p.TokensPerSecond:F0} tok/s ETA {p.Eta:hh\\:mm\\:ss}");
                        }, cts.Token);
                    });
            }
            else
            {
                result = trainer.Run(p =>
                {
                    int every = Math.Max(1, p.TotalSteps / 20);
                    if (p.IsEval) Console.WriteLine($"step {p.Step}/{p.TotalSteps} val_nll {p.Validation!.MeanNll:F4} val_bpb {p.Validation.BitsPerToken:F4} best {p.BestValNll:F4}");
                    else if (p.Step % every == 0 || p.Step == 1)
                        Console.WriteLine($"step {p.Step}/{p.TotalSteps} loss {p.TrainLoss:F4} lr {p.LearningRate:G3} {p.TokensPerSecond:F0} tok/s ETA {p.Eta:hh\\:mm\\:ss}");
                }, cts.Token);
            }
            Console.WriteLine(result.Cancelled
                ? $"Stopped at step {result.Step}; resume with --resume. Checkpoint: {result.LastCheckpoint}"
                : $"Done: {result.Step} steps, {result.TokensPerSecond:F0} tok/s, best val_nll {result.BestValNll:F4}. Checkpoints: {result.LastCheckpoint}, {result.BestCheckpoint}");
            return result.Cancelled ? 130 : 0;
        }
        finally { Console.CancelKeyPress -= onCancel; }
    }
}
