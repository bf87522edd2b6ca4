using System.CommandLine;
using EdgeShortcut;
using EdgeShortcut.Trainer;
using EdgeShortcut.Trainer.Cli;
using EdgeShortcut.Trainer.Data;

// EdgeShortcut trainer CLI: train, eval, sample, train-bench. Library code throws typed exceptions;
// only this entry point turns them into one-line errors and exit code 2.
TorchSetup.PreferPassiveOpenMpWaits();   // before the first torch call loads libtorch's OpenMP runtime
var root = new RootCommand("EdgeShortcut trainer: shortcut GPT (and plain GPT baseline) in TorchSharp.")
{
    TrainCommand.Create(), EvalCommand.Create(), SampleCommand.Create(), BenchCommand.Create(),
};
try
{
    return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (e is ArgumentException or CorpusException or CheckpointFormatException or InvalidModelConfigException or IOException or UnauthorizedAccessException)
{
    // ArgumentException appends " (Parameter 'x')"; the messages already name the flag or field.
    Console.Error.WriteLine($"error: {System.Text.RegularExpressions.Regex.Replace(e.Message, @" \(Parameter '[^']*'\)", "")}");
    return 2;
}
