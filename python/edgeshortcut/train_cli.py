"""The flags of train.py: the C# trainer's `train` flags, same names, same defaults, same meaning
(tests pin the name sets equal: tests/Python/TrainerLockstepTests.cs). `--batch` is global."""
import argparse

from .errors import UsageError
from .options import TrainingOptions

# Settings a resumed run keeps from training_state.json; giving one of them with --resume is an error.
FIXED_ON_RESUME = ["--val-data", "--token-vocab", "--arch", "--layers", "--dim", "--heads", "--context", "--taps",
                   "--feature-dim", "--untied", "--exit-depths", "--exit-loss-weight", "--token-exit-rate", "--exit-from-step", "--batch",
                   "--grad-accum", "--lr", "--min-lr", "--warmup", "--weight-decay", "--dropout", "--clip",
                   "--feature-init", "--seed", "--eval-batch"]


def build_parser():
    """Every flag defaults to None in the parser (so "given" can be told from "defaulted"); the
    defaults shown in --help are TrainingOptions' and applied by parse()."""
    d = TrainingOptions()
    p = argparse.ArgumentParser(prog="train.py", description="Train a shortcut GPT (or the baseline) with PyTorch DDP "
                                "(torchrun) and write checkpoints in the EdgeShortcut format (docs/DISTRIBUTED.md).")
    add = p.add_argument
    add("--data", help="Training corpus: UTF-8 text (byte tokenizer), or little-endian uint16 ids with --token-vocab.")
    add("--val-data", help="Separate validation corpus [default: the last 10%% of --data].")
    add("--token-vocab", type=int, help="Treat --data as a pre-tokenized uint16 file with this vocab size [default: byte tokenizer, vocab 256].")
    add("--out", help=f"Run directory: last/, best/ checkpoints and log.csv. [default: {d.out}]")
    add("--arch", choices=["shortcut", "baseline"], help="Architecture: shortcut (final block attends over tapped features) or baseline (plain GPT). [default: shortcut]")
    add("--layers", type=int, help=f"Number of blocks L (>= 2). [default: {d.layers}]")
    add("--dim", type=int, help=f"Residual width d. [default: {d.dim}]")
    add("--heads", type=int, help=f"Attention heads (must divide --dim). [default: {d.heads}]")
    add("--context", type=int, help=f"Context length (learned positions). [default: {d.context}]")
    add("--taps", help="Tapped layers: 'all' (1..L-1) or a list such as 2,4,6. [default: all]")
    add("--feature-dim", type=int, help="Feature-MLP width m [default: 4 x --dim].")
    add("--untied", action="store_const", const=True, help="Use a separate output head instead of the token embedding.")
    add("--exit-depths", help="Exit recipe: 'none', or trunk depths (each in 1..L-2) such as 1,2 whose exits are trained beside the full depth and recorded in config.json. [default: none]")
    add("--exit-loss-weight", type=float, help=f"Weight w of the exit loss: CE(full) + w * mean CE(exits); used with --exit-depths. [default: {d.exit_loss_weight:g}]")
    add("--token-exit-rate", type=float, help=f"Per-token exits: probability in [0, 1) that a training token exits at a depth drawn from --exit-depths; 0 = off. Requires --exit-depths. [default: {d.token_exit_rate:g}]")
    add("--exit-from-step", type=int, help=f"Late exit recipe: train the plain objective before this step and the exit recipe (--exit-depths, --exit-loss-weight, --token-exit-rate) from it on; 0 = from the start. Requires --exit-depths. [default: {d.exit_from_step}]")
    add("--steps", type=int, help=f"Optimizer steps. [default: {d.steps}]")
    add("--batch", type=int, help=f"Global sequences per micro-batch, summed over all ranks (must be a multiple of the number of processes). [default: {d.batch}]")
    add("--grad-accum", type=int, help=f"Micro-batches per optimizer step (effective batch = batch x grad-accum). [default: {d.grad_accum}]")
    add("--lr", type=float, help=f"Peak learning rate (after warm-up). [default: {d.lr:g}]")
    add("--min-lr", type=float, help=f"Final learning rate of the cosine decay. [default: {d.min_lr:g}]")
    add("--warmup", type=int, help=f"Linear warm-up steps. [default: {d.warmup}]")
    add("--weight-decay", type=float, help=f"AdamW weight decay (matrices and embeddings only). [default: {d.weight_decay:g}]")
    add("--dropout", type=float, help=f"Dropout probability. [default: {d.dropout:g}]")
    add("--clip", type=float, help=f"Gradient-norm clip (0 = off). [default: {d.clip:g}]")
    add("--feature-init", choices=["scaled", "plain"], help="Init of the feature MLPs' output projections: scaled (std 0.02/sqrt(2L)) or plain (std 0.02). [default: plain]")
    add("--seed", type=int, help=f"Seed of weights, dropout and batch sampling. [default: {d.seed}]")
    add("--eval-every", type=int, help=f"Evaluate on the whole validation split and checkpoint every N steps (and at the end). [default: {d.eval_every}]")
    add("--eval-batch", type=int, help=f"Validation windows per forward pass (per rank). [default: {d.eval_batch}]")
    add("--threads", type=int, help="Torch threads per process (0 = the machine's cores / processes on this node). [default: 0]")
    add("--resume", action="store_const", const=True, help="Continue OUT/last (written by either trainer) with its stored settings; only --steps, --eval-every and --threads may change.")
    return p


def flag_names():
    """Every long flag of train.py, for the lockstep test."""
    return sorted(s for a in build_parser()._actions for s in a.option_strings if s.startswith("--") and s != "--help")


def _int_list(text, flag, keyword, example):
    if text.strip().lower() == keyword:
        return None
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UsageError(f"{flag}: '{text}' is not a list of layers (use '{keyword}' or a list like {example}).") from None


def parse(argv):
    """(TrainingOptions from the flags, resume?, the fixed-on-resume flags that were given).
    argparse itself exits with code 2 on an unknown flag or a malformed value."""
    a = build_parser().parse_args(argv)
    d = TrainingOptions()
    pick = lambda value, default: default if value is None else value
    options = TrainingOptions(
        data=pick(a.data, d.data), val_data=a.val_data, out=pick(a.out, d.out), token_vocab=a.token_vocab,
        shortcut=pick(a.arch, "shortcut") == "shortcut", layers=pick(a.layers, d.layers), dim=pick(a.dim, d.dim),
        heads=pick(a.heads, d.heads), context=pick(a.context, d.context),
        taps=_int_list(pick(a.taps, "all"), "--taps", "all", "2,4,6"), feature_dim=a.feature_dim,
        tied_embeddings=not a.untied, exit_depths=_int_list(pick(a.exit_depths, "none"), "--exit-depths", "none", "1,2"),
        exit_loss_weight=pick(a.exit_loss_weight, d.exit_loss_weight), token_exit_rate=pick(a.token_exit_rate, d.token_exit_rate),
        exit_from_step=pick(a.exit_from_step, d.exit_from_step),
        steps=pick(a.steps, d.steps), batch=pick(a.batch, d.batch), grad_accum=pick(a.grad_accum, d.grad_accum),
        lr=pick(a.lr, d.lr), min_lr=pick(a.min_lr, d.min_lr), warmup=pick(a.warmup, d.warmup),
        weight_decay=pick(a.weight_decay, d.weight_decay), dropout=pick(a.dropout, d.dropout), clip=pick(a.clip, d.clip),
        scaled_feature_init=pick(a.feature_init, "plain") == "scaled", seed=pick(a.seed, d.seed),
        eval_every=pick(a.eval_every, d.eval_every), eval_batch=pick(a.eval_batch, d.eval_batch), threads=pick(a.threads, d.threads))
    given = [flag for flag in FIXED_ON_RESUME if getattr(a, flag[2:].replace("-", "_")) is not None]
    return options, bool(a.resume), given
