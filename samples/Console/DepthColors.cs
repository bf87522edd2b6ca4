using EdgeShortcut.Core;

namespace EdgeShortcut.ConsoleSample;

/// <summary>When <c>--show-depth</c> colours text: on a terminal (and NO_COLOR unset), always, or never.</summary>
internal enum ColorMode { Auto, Always, Never }

/// <summary>
/// <c>--show-depth</c>'s palette: one ANSI colour per exit depth of the model (<see cref="ModelConfig.AllExits"/>),
/// shallow exits in cool colours, the full depth red, and the legend line that explains them.
/// Without colours (stdout redirected, NO_COLOR, <c>--color never</c>) text passes through unchanged.
/// </summary>
internal sealed class DepthColors
{
    private static readonly string[] Shallow = ["32", "36", "34", "35", "33"];   // green, cyan, blue, magenta, yellow
    private const string FullColor = "31";                                        // red
    private readonly Dictionary<int, string> _codes = [];
    private readonly int _full;

    public DepthColors(ModelConfig config, ColorMode mode)
    {
        Enabled = mode == ColorMode.Always ||
            (mode == ColorMode.Auto && !Console.IsOutputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")));
        _full = config.IsShortcut ? config.Layers - 1 : config.Layers;
        var exits = config.IsShortcut ? config.AllExits : [config.Layers];
        for (int i = 0; i < exits.Length; i++)
            _codes[exits[i]] = exits[i] == _full ? FullColor : Shallow[i % Shallow.Length];
        Legend = "depth: " + string.Join(" ", exits.Select(e => $"{e} {Paint("■", e)}")) + " (full)" +
            (Enabled ? "" : "  [no colours: stdout is not a terminal; --color always forces them]");
    }

    /// <summary>Whether escape codes are written.</summary>
    public bool Enabled { get; }

    /// <summary>The legend, e.g. <c>depth: 2 ■ 4 ■ 5 ■ (full)</c>, each square in its depth's colour.</summary>
    public string Legend { get; }

    /// <summary>The exit depth as this palette counts it: the ONNX Runtime backends report a shortcut model's
    /// full depth as L (the managed engine as L-1), so anything past the full depth is the full depth.</summary>
    public int Normalize(int depth) => Math.Min(depth, _full);

    /// <summary><paramref name="text"/> in the colour of <paramref name="depth"/> (depths past the last exit, as the
    /// ONNX Runtime backends report full depth, count as full).</summary>
    public string Paint(string text, int depth)
    {
        if (!Enabled || text.Length == 0) return text;
        string code = _codes.TryGetValue(Normalize(depth), out var c) ? c : "0";
        return $"\u001b[{code}m{text}\u001b[0m";
    }
}
