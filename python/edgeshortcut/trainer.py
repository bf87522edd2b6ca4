"""The training loop under DDP: the C# trainer's loop (src/Trainer/Training/Trainer.cs) with the
global batch split over ranks.

Per step: every rank draws its rows of the global batch from the shared sampler, runs its micro-
batches (gradients synchronised on the last one only), DDP averages the gradients over ranks (equal
row counts, so the average of the ranks' mean losses is the global mean), every rank clips and
steps the identical AdamW. Every `eval_every` steps the validation windows are split over ranks and
their NLL summed; rank 0 writes log.csv and the `last/` (and `best/`) checkpoints.
"""
import base64
import contextlib
import math
import os
import signal
import time

import torch
from torch.nn.parallel import DistributedDataParallel

from . import checkpoint, optimizer_file, training_step
from .config import CONFIG_FILE
from .data import BatchSampler, TokenCorpus
from .distributed import agree, sum_all
from .errors import CheckpointFormatError, UsageError
from .evaluation import nll_sum, window_count
from .model import ShortcutGpt
from .optimizer import create_optimizer, learning_rate
from .options import TrainingOptions

LOG_FILE = "log.csv"
LOG_HEADER = "step,tokens_seen,train_loss,val_nll,val_bpb,lr,elapsed_s"


def last_dir(out):
    return os.path.join(out, "last")


def best_dir(out):
    return os.path.join(out, "best")


def load_data(o):
    """(train, validation): the last 10% of --data validates unless --val-data is given."""
    data = TokenCorpus.load(o.data, o.tokenizer)
    train, val = data.split_last_tenth() if o.val_data is None else (data, TokenCorpus.load(o.val_data, o.tokenizer))
    return train.require_window(o.context, "training"), val.require_window(o.context, "validation")


class Run:
    """Everything a rank holds after setup: settings, data, model, optimizer and where the run stands."""

    def __init__(self, requested, resume, given, d):
        last = last_dir(requested.out)
        state = None
        if resume:
            if given:
                raise UsageError(f"--resume continues with the settings stored in {last}; these cannot change: {', '.join(given)}.")
            state = checkpoint.read_state(last)
            stored = TrainingOptions.from_json(state["options"])
            requested = stored.with_(steps=requested.steps, eval_every=requested.eval_every, threads=requested.threads, out=requested.out)
        self.o = o = requested.validate()
        if o.batch % d.world_size:
            raise UsageError(f"--batch {o.batch} is the global batch and must be a multiple of the number of processes ({d.world_size}).")
        self.config = o.model_config()
        torch.set_num_threads(o.threads or max(1, (os.cpu_count() or 1) // d.local_world_size))
        self.train, self.val = load_data(o)
        self.sampler = BatchSampler(self.train, o.context, o.seed)
        torch.manual_seed(o.seed)
        self.model = ShortcutGpt(self.config, o.dropout, o.scaled_feature_init).to(d.device)
        self.optimizer = create_optimizer(self.model, o.lr, o.weight_decay)
        self.start_step, self.tokens_seen, self.best, self.elapsed_before = 0, 0, None, 0.0
        if state is not None:
            config, _, tensors = checkpoint.load_weights(last)
            if not config.same_shape(self.config):
                diff = {k: (v, self.config.to_json()[k]) for k, v in config.to_json().items() if v != self.config.to_json()[k]}
                raise CheckpointFormatError(os.path.join(last, CONFIG_FILE), f"model config differs from the run's options (file vs options: {diff})")
            self.model.load_state_dict({k: v.to(d.device) for k, v in tensors.items()}, strict=True)
            optimizer_file.read_into(os.path.join(last, checkpoint.OPTIMIZER_FILE), self.optimizer)
            self.start_step, self.tokens_seen = state["step"], state.get("tokens_seen", 0)
            self.best, self.elapsed_before = state.get("best_val_nll"), state.get("elapsed_seconds", 0.0)


class _StopFlag:
    """SIGINT/SIGTERM (Ctrl+C, or torchrun shutting the job down) ask for a stop after the current
    step; the ranks agree on it, and rank 0 writes last/ before they exit."""

    def __init__(self):
        self.raised = False
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, self._set)

    def _set(self, *_):
        self.raised = True


def run(requested, resume, given, d, say=print):
    """Trains to --steps (or until a stop signal). Returns the list of per-step mean losses."""
    r = agree(d, lambda: Run(requested, resume, given, d))
    o, config, model, opt = r.o, r.config, r.model, r.optimizer
    net = model
    if d.active:
        net = DistributedDataParallel(model, device_ids=[d.local_rank] if d.device.type == "cuda" else None)
    per_rank = o.batch // d.world_size
    rows = range(d.rank * per_rank, (d.rank + 1) * per_rank)
    tokens_per_step = o.batch * o.grad_accum * o.context
    if d.is_main:
        _prepare_log(o.out, r.start_step)
        say(f"{d.world_size} process(es), backend {d.backend if d.active else 'none'}, global batch {o.batch} "
            f"({per_rank} per rank) x grad-accum {o.grad_accum}, {sum(p.numel() for p in model.parameters()):,} parameters")
    stop, losses, clock, step, best = _StopFlag(), [], 0.0, r.start_step, r.best
    model.train()
    while step < o.steps:
        t0 = time.perf_counter()
        lr = learning_rate(step, o.steps, o.lr, o.min_lr, o.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        torch.manual_seed(training_step.dropout_seed(o.seed, step, d.rank))
        local = 0.0
        for micro in range(o.grad_accum):
            x, y = r.sampler.batch(step, micro, rows)
            depths = None
            if o.token_exit_rate > 0 and training_step.uses_exit_recipe(config, o, step):
                depths = training_step.token_exit_depths(config, o, step, micro, rows).to(d.device)
            sync = contextlib.nullcontext() if not d.active or micro == o.grad_accum - 1 else net.no_sync()
            with sync:
                l = training_step.loss(net, x.to(d.device), y.to(d.device), config, o, step, depths)
                (l / o.grad_accum).backward()
            local += l.item() / o.grad_accum
        if o.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), o.clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss_sum, stops = sum_all(d, [local, float(stop.raised)])
        loss = loss_sum / d.world_size
        clock += time.perf_counter() - t0
        step += 1
        r.tokens_seen += tokens_per_step
        losses.append(loss)
        if d.is_main:
            say(f"step {step}/{o.steps} loss {loss:.8f} lr {lr:.4e} {len(losses) * tokens_per_step / max(clock, 1e-9):,.0f} tok/s")
        if step % o.eval_every == 0 or step == o.steps:
            val = _evaluate(model, r.val, o, d)
            improved = best is None or val < best
            best = val if improved else best
            if d.is_main:
                elapsed = r.elapsed_before + clock
                _append_log(o.out, step, r.tokens_seen, loss, val, lr, elapsed)
                state = _state(o, d, step, r.tokens_seen, best, val, elapsed)
                checkpoint.save_training_checkpoint(last_dir(o.out), model, opt, o.tokenizer, state)
                if improved:
                    checkpoint.save_training_checkpoint(best_dir(o.out), model, opt, o.tokenizer, state)
                say(f"step {step}: val_nll {val:.6f} nats/token, val_bpb {val / math.log(2):.6f} (best {best:.6f}); wrote {last_dir(o.out)}")
        if stops > 0:
            if d.is_main:
                if step % o.eval_every != 0 and step != o.steps:
                    state = _state(o, d, step, r.tokens_seen, best, None, r.elapsed_before + clock)
                    checkpoint.save_training_checkpoint(last_dir(o.out), model, opt, o.tokenizer, state)
                say(f"stopped at step {step}: {last_dir(o.out)} written; --resume continues")
            break
    return losses


def _evaluate(model, val, o, d):
    """Mean held-out NLL; rank k scores the k-th contiguous share of the windows."""
    t = o.context
    w = window_count(val, t)
    share = -(-w // d.world_size)
    mine = list(range(d.rank * share, min(w, (d.rank + 1) * share)))
    total, = sum_all(d, [nll_sum(model, val, o.eval_batch, mine)])
    return total / (w * t)


def _state(o, d, step, tokens, best, val, elapsed):
    """training_state.json in the C# trainer's schema (plus `trainer` and `world_size`, which it ignores)."""
    return {"step": step, "tokens_seen": tokens, "best_val_nll": best, "val_nll": val,
            "torch_rng_state": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode("ascii"),
            "data_position": {"sampler": "splitmix64(seed, step, micro, row) -> window start", "next_step": step, "seed": o.seed},
            "elapsed_seconds": elapsed, "options": o.to_json(), "trainer": "python-ddp", "world_size": d.world_size}


def _prepare_log(out, start_step):
    """Starts log.csv, or on resume keeps the rows up to the resumed step (as the C# trainer)."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, LOG_FILE)
    rows = [LOG_HEADER]
    if start_step > 0 and os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            for line in f.read().splitlines()[1:]:
                head = line.split(",")[0]
                if head.isdigit() and int(head) <= start_step:
                    rows.append(line)
    temp = path + f".{os.getpid()}.tmp"
    with open(temp, "w", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")
    os.replace(temp, path)


def _append_log(out, step, tokens, loss, val, lr, elapsed):
    with open(os.path.join(out, LOG_FILE), "a", encoding="utf-8") as f:
        f.write(f"{step},{tokens},{loss:.6f},{val:.6f},{val / math.log(2):.6f},{lr:G},{elapsed:.1f}\n")
