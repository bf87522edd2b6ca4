using System.CommandLine;
using EdgeShortcut;
using EdgeShortcut.Core;
using EdgeShortcut.Trainer;
using EdgeShortcut.Trainer.Cli;
using EdgeShortcut.Trainer.Data;

// EdgeShortcut trainer CLI: train, eval, sample, train-bench. Library code throws typed exceptions;
// only this entry point turns them into one-line errors and the exit codes of every tool (CliExitCodes):
// 2 for a usage error (a command line that does not parse, a bad flag value), 1 for a runtime error.
TorchSetup.PreferPassiveOpenMpWaits();   // before the first torch call loads libtorch's OpenMP runtime
var root = new RootCommand("EdgeShortcut trainer: shortcut GPT (and plain GPT baseline) in TorchSharp.")
{
    TrainCommand.Create(), EvalCommand.Create(), SampleCommand.Create(), BenchCommand.Create(),
};
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    foreach (var e in parsed.Errors) Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine("(--help lists the commands and flags)");
    return CliExitCodes.Usage;
}
try
{
    return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (ArgumentException e)   // a bad flag value, or a config field (InvalidModelConfigException) named by its flag
{
    Console.Error.WriteLine($"error: {CliExitCodes.WithoutParameterSuffix(e.Message)}");
    return CliExitCodes.Usage;
}
catch (Exception e) when (e is CorpusException or CheckpointFormatException or NonFiniteValueException or IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return CliExitCodes.Runtime;
}
