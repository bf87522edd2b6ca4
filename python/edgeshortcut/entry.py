"""The two command lines (train.py, eval.py) and the one place that turns errors into exit codes:
0 ok, 1 runtime error (with its traceback), 2 usage error (one line: `error: ...`), as the C# tools.
Under torchrun every rank prints its own line, prefixed with its rank."""
import argparse
import json
import sys
import traceback

from .errors import EXIT_OK, EXIT_RUNTIME_ERROR, EXIT_USAGE_ERROR, UsageError


def _guarded(body, d=None):
    prefix = f"rank {d.rank}: " if d is not None and d.active else ""
    try:
        body()
        return EXIT_OK
    except UsageError as e:
        print(f"{prefix}error: {e}", file=sys.stderr, flush=True)
        return EXIT_USAGE_ERROR
    except Exception as e:   # noqa: BLE001 - the entry point reports every failure
        traceback.print_exc()
        print(f"{prefix}error: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return EXIT_RUNTIME_ERROR
    finally:
        if d is not None:
            from . import distributed
            distributed.shutdown(d)


def train_main(argv):
    """train.py: torchrun [...] python/train.py --data TEXT --out DIR [flags of `Trainer train`]."""
    from . import train_cli, trainer
    options, resume, given = train_cli.parse(argv)   # argparse exits 2 on a malformed command line
    if not resume:
        # Flag checks need no torch and give every rank the same answer: fail fast, before the group forms.
        code = _guarded(options.validate)
        if code != EXIT_OK:
            return code
    from . import distributed   # imports torch
    d = distributed.init()
    say = (lambda line: print(line, flush=True)) if d.is_main else (lambda line: None)
    return _guarded(lambda: trainer.run(options, resume, given, d, say), d)


def eval_main(argv):
    """eval.py --checkpoint DIR [--data TEXT] [--json]: held-out NLL as `Trainer eval` prints it."""
    p = argparse.ArgumentParser(prog="eval.py", description="Evaluate a checkpoint on fixed non-overlapping windows (docs/FORMAT.md section 6).")
    p.add_argument("--checkpoint", required=True, help="Checkpoint directory (config.json + model.safetensors).")
    p.add_argument("--data", help="Corpus to evaluate [default: the validation split of the run's training data, from training_state.json].")
    p.add_argument("--json", action="store_true", help="Print one JSON object {val_nll, val_bpb, tokens, windows} as the last line.")
    p.add_argument("--batch", type=int, default=16, help="Windows per forward pass. [default: 16]")
    p.add_argument("--threads", type=int, default=0, help="Torch threads (0 = all cores). [default: 0]")
    a = p.parse_args(argv)

    def body():
        import torch
        from . import checkpoint, evaluation, trainer
        from .data import TokenCorpus
        from .options import TrainingOptions
        if a.batch < 1:
            raise UsageError(f"--batch must be >= 1 (got {a.batch}).")
        if a.threads > 0:
            torch.set_num_threads(a.threads)
        model, tokenizer = checkpoint.load_model(a.checkpoint)
        if a.data is not None:
            corpus = TokenCorpus.load(a.data, tokenizer)
        else:
            corpus = trainer.load_data(TrainingOptions.from_json(checkpoint.read_state(a.checkpoint)["options"]))[1]
        r = evaluation.mean_nll(model, corpus, a.batch)
        print(f"{corpus.source}: val_nll {r['val_nll']:.6f} nats/token, val_bpb {r['val_bpb']:.6f} "
              f"({r['tokens']} tokens, {r['windows']} windows of {model.config.n_ctx})")
        if a.json:
            print(json.dumps(r))
    return _guarded(body)
