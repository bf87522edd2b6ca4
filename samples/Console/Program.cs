using System.CommandLine;
using EdgeShortcut.ConsoleSample;
using EdgeShortcut.Runtime;

// EdgeShortcut console sample: `EdgeShortcut.Console "ROMEO:"` streams a continuation from the
// default model; without a prompt it reads prompts line by line; `bench` compares the backends.
var model = new Option<string?>("--model", "-m") { Description = $"ONNX model file (default: {CliModel.DefaultPath})" };
var backend = new Option<BackendKind>("--backend", "-b") { Description = "auto | directml | cpu | managed", DefaultValueFactory = _ => BackendKind.Auto };
var temperature = new Option<float>("--temperature", "-t") { Description = "0 = greedy", DefaultValueFactory = _ => 0.8f };
var topK = new Option<int>("--top-k") { Description = "keep the k most likely tokens (0 = all)", DefaultValueFactory = _ => 40 };
var topP = new Option<float>("--top-p") { Description = "nucleus sampling mass in (0, 1]", DefaultValueFactory = _ => 0.95f };
var repetition = new Option<float>("--repetition-penalty") { Description = "1 = off, > 1 discourages repeats", DefaultValueFactory = _ => 1.1f };
var maxNewTokens = new Option<int>("--max-new-tokens", "-n") { Description = "new tokens per prompt", DefaultValueFactory = _ => 300 };
var seed = new Option<int?>("--seed", "-s") { Description = "same seed, same text (default: random)" };
var threads = new Option<int>("--threads") { Description = "threads per model call (0 = backend default)" };
var activations = new Option<ActivationPrecision>("--activations") { Description = "float32 (default: every backend gives the same text) | int8 (int8 activations: fastest on CPUs)", DefaultValueFactory = _ => ActivationPrecision.Float32 };
var prompt = new Argument<string?>("prompt") { Description = "text to continue; omit for interactive mode", Arity = ArgumentArity.ZeroOrOne };

var root = new RootCommand("Generate text with an EdgeShortcut model (shortcut GPT, int8 ONNX).");
foreach (var o in new Option[] { model, backend, activations, temperature, topK, topP, repetition, maxNewTokens, seed, threads }) root.Options.Add(o);
root.Arguments.Add(prompt);
root.SetAction((parse, ct) => CliErrors.Run(async () =>
{
    // Validated by GenerateAsync (the library's entry); CliErrors maps the bad option to its flag.
    var options = new GenerationOptions
    {
        Temperature = parse.GetValue(temperature), TopK = parse.GetValue(topK), TopP = parse.GetValue(topP),
        RepetitionPenalty = parse.GetValue(repetition), MaxNewTokens = parse.GetValue(maxNewTokens), Seed = parse.GetValue(seed),
    };
    using var edge = CliModel.Load(parse.GetValue(model), new EdgeModelOptions { Backend = parse.GetValue(backend), Threads = parse.GetValue(threads), Activations = parse.GetValue(activations) });
    return await GenerateCommand.RunAsync(edge, options, parse.GetValue(prompt), ct);
}));

var benchJson = new Option<bool>("--json") { Description = "end with one JSON line of the results" };
var bench = new Command("bench", "Decode tokens/s, 256-token prefill time and bytes allocated per token, for every available backend.");
bench.Options.Add(model);
bench.Options.Add(benchJson);
bench.Options.Add(threads);
bench.Options.Add(activations);
bench.SetAction((parse, ct) => CliErrors.Run(() => Task.FromResult(BenchCommand.Run(CliModel.ResolvePath(parse.GetValue(model)), parse.GetValue(threads), parse.GetValue(activations), parse.GetValue(benchJson), ct))));
root.Subcommands.Add(bench);

var parityTokens = new Option<int>("--tokens") { Description = "greedy tokens to compare", DefaultValueFactory = _ => 200 };
var parityBound = new Option<double>("--bound") { Description = "largest accepted normalized MSE of the logits", DefaultValueFactory = _ => 1e-3 };
var parityPrompt = new Argument<string>("prompt") { Description = "prompt to continue", DefaultValueFactory = _ => "ROMEO:" };
var parity = new Command("parity", "Compare the managed engine with the ONNX Runtime CPU provider: same greedy continuation, logits NMSE per step (exit 3 if they differ).");
parity.Options.Add(model);
parity.Options.Add(parityTokens);
parity.Options.Add(parityBound);
parity.Options.Add(activations);
parity.Arguments.Add(parityPrompt);
parity.SetAction(parse => CliErrors.Run(() => Task.FromResult(ParityCommand.Run(CliModel.ResolvePath(parse.GetValue(model)), parse.GetValue(parityPrompt)!, parse.GetValue(parityTokens), parse.GetValue(parityBound), parse.GetValue(activations)))));
root.Subcommands.Add(parity);

return await root.Parse(args).InvokeAsync();
