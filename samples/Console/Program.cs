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
var threads = new Option<int>("--threads") { Description = "threads per model call (0 = default: the managed engine's count, min(cores, 2), on every CPU backend; the managed engine uses at most 2)" };
var activations = new Option<ActivationPrecision>("--activations") { Description = "float32 (default: every backend gives the same text) | int8 (int8 activations: fastest on CPUs)", DefaultValueFactory = _ => ActivationPrecision.Float32 };
var kvCache = new Option<KeyValueCachePrecision>("--kv-cache") { Description = "float32 (default) | bfloat16 (managed engine: half the cache bytes, faster late tokens) | int8 (managed engine: a quarter of the bytes, per-head scales; a larger rounding)", DefaultValueFactory = _ => KeyValueCachePrecision.Float32 };
var depth = new Option<string?>("--depth") { Description = $"{CliDepth.Spelling} (default full; not full: the managed engine)" };
var showDepth = new Option<bool>("--show-depth") { Description = "colour each generated token by its exit depth (legend on stderr)" };
var color = new Option<ColorMode>("--color") { Description = "--show-depth colours: auto (a terminal) | always | never", DefaultValueFactory = _ => ColorMode.Auto };
var prompt = new Argument<string?>("prompt") { Description = "text to continue; omit for interactive mode", Arity = ArgumentArity.ZeroOrOne };

var root = new RootCommand("Generate text with an EdgeShortcut model (shortcut GPT, int8 ONNX).");
foreach (var o in new Option[] { model, backend, activations, kvCache, temperature, topK, topP, repetition, maxNewTokens, seed, threads, depth, showDepth, color }) root.Options.Add(o);
root.Arguments.Add(prompt);
root.SetAction((parse, ct) => CliErrors.Run(async () =>
{
    // Validated by GenerateAsync (the library's entry); CliErrors maps the bad option to its flag.
    var options = new GenerationOptions
    {
        Temperature = parse.GetValue(temperature), TopK = parse.GetValue(topK), TopP = parse.GetValue(topP),
        RepetitionPenalty = parse.GetValue(repetition), MaxNewTokens = parse.GetValue(maxNewTokens), Seed = parse.GetValue(seed),
        Depth = CliDepth.Parse(parse.GetValue(depth)),
    };
    if (options.Depth.Kind == DepthPolicyKind.SelfSpeculative && (options.Temperature != 0 || options.RepetitionPenalty != 1))
        throw new CliUsageException($"--depth {options.Depth}: self-speculation reproduces greedy decoding; add --temperature 0 --repetition-penalty 1");
    var kind = CliDepth.Backend(options.Depth, parse.GetValue(backend));
    using var edge = CliModel.Load(parse.GetValue(model), new EdgeModelOptions { Backend = kind, Threads = parse.GetValue(threads), Activations = parse.GetValue(activations), KeyValueCache = parse.GetValue(kvCache) });
    CliDepth.Validate(options.Depth, edge.Config);
    var colors = parse.GetValue(showDepth) ? new DepthColors(edge.Config, parse.GetValue(color)) : null;
    return await GenerateCommand.RunAsync(edge, options, parse.GetValue(prompt), colors, ct);
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

var data = new Option<string>("--data") { Description = "text file (byte models) or uint16 token file: its last 10% is the held-out split", Required = true };
var depthList = new Option<string>("--depth") { Description = $"comma-separated policies: {CliDepth.Spelling}", DefaultValueFactory = _ => "full" };
var positions = new Option<int?>("--positions") { Description = "score the first N held-out positions (default: all)" };
var evalJson = new Option<bool>("--json") { Description = "end with one JSON line of the results" };
var eval = new Command("eval", "Held-out NLL (nats/byte), tokens/s and exit depths under depth policies, in turns on the managed engine.");
var evalBaselines = new Option<string?>("--baseline") { Description = "comma-separated model files (e.g. plain GPTs) scored at full depth in the same turns" };
var evalPlot = new Option<string?>("--plot") { Description = "write a PNG of NLL against tokens/s (policies and baselines)" };
foreach (var o in new Option[] { model, data, depthList, positions, evalJson, activations, kvCache, evalBaselines, evalPlot }) eval.Options.Add(o);
eval.SetAction((parse, ct) => CliErrors.Run(() => Task.Run(() => EvalCommand.Run(CliModel.ResolvePath(parse.GetValue(model)), parse.GetValue(data)!,
    parse.GetValue(depthList)!, parse.GetValue(positions), parse.GetValue(evalJson), parse.GetValue(activations), ct,
    parse.GetValue(evalBaselines) is { } list ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : null,
    parse.GetValue(evalPlot), parse.GetValue(kvCache)), ct)));
root.Subcommands.Add(eval);

var mapText = new Option<string>("--text") { Description = "the text to map (at most n_ctx tokens)", Required = true };
var mapOut = new Option<string>("--out") { Description = "directory for depth-map.json and depth-map.png", Required = true };
var mapDepth = new Option<string?>("--depth") { Description = $"{CliDepth.Spelling} (default full)" };
var depthMap = new Command("depth-map", "Per character of a text: its exit depth and the shortcut block's attention per tapped layer, as JSON and a PNG heatmap.");
foreach (var o in new Option[] { model, mapText, mapOut, mapDepth, activations }) depthMap.Options.Add(o);
depthMap.SetAction((parse, ct) => CliErrors.Run(() => Task.Run(() => DepthMapCommand.Run(CliModel.ResolvePath(parse.GetValue(model)), parse.GetValue(mapText),
    parse.GetValue(mapOut)!, parse.GetValue(mapDepth), parse.GetValue(activations), ct), ct)));
root.Subcommands.Add(depthMap);

// A command line that does not parse is a usage error: one line per problem, exit code 2.
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    foreach (var e in parsed.Errors) Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine("(--help lists the commands and flags)");
    return CliErrors.Usage;
}
return await parsed.InvokeAsync();
