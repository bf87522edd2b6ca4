using System.Runtime.CompilerServices;

// Core is two things (docs/RUNTIME.md, "What an app sees"): the model contract an app may name,
// public in namespace EdgeShortcut (ModelConfig, TokenizerSpec, CheckpointFormatException,
// InvalidModelConfigException, Utf8StreamDecoder), and the plumbing behind the file formats,
// internal in EdgeShortcut.Core, shared only with this repository's own assemblies:
[assembly: InternalsVisibleTo("EdgeShortcut.Runtime")]
[assembly: InternalsVisibleTo("EdgeShortcut.Trainer")]
[assembly: InternalsVisibleTo("EdgeShortcut.Quantize")]
[assembly: InternalsVisibleTo("EdgeShortcut.Quantize.Export")]   // the torch-free exporter library (src/Quantize/Export)
[assembly: InternalsVisibleTo("EdgeShortcut.Experiments")]
[assembly: InternalsVisibleTo("EdgeShortcut.ManagedBench")]
[assembly: InternalsVisibleTo("EdgeShortcut.Tests")]
[assembly: InternalsVisibleTo("EdgeShortcut.Runtime.Tests")]
[assembly: InternalsVisibleTo("EdgeShortcut.Fuzz")]
