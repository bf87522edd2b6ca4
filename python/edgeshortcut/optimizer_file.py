"""`optimizer.bin`: the AdamW state both trainers read and write, in TorchSharp's `save_state_dict`
layout (the C# trainer's native file), so either trainer resumes the other's run with its moments.

Layout (little-endian; "uleb" = unsigned LEB128):
    uleb len, "AdamW"                      optimizer name
    uleb G, uleb P                         parameter groups, parameters with state
    G times: f64 initial_lr, f64 lr, f64 beta1, f64 beta2, f64 eps, f64 weight_decay, u8 amsgrad, u8 maximize
    P times (groups in order, parameters in group order):
        i64 step, tensor exp_avg, tensor exp_avg_sq, u8 has_max, [tensor max_exp_avg_sq]
    tensor: uleb dtype (6 = float32), uleb ndim, ndim x uleb dim, raw data
Group 0 holds the parameters with 2+ dimensions (weight decay), group 1 the rest; within a group the
parameters follow docs/FORMAT.md section 3's order (tensor_names.py), which is also the order of both
models' parameters. Written before the first step, P is 0 (no state yet).
"""
import io
import struct

import numpy as np
import torch

from .errors import CheckpointFormatError

_FLOAT32 = 6


def _uleb(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


class _Reader:
    def __init__(self, data, path):
        self.data, self.pos, self.path = data, 0, path

    def take(self, n):
        if self.pos + n > len(self.data):
            raise CheckpointFormatError(self.path, f"truncated at byte {self.pos} (needs {n} more)")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def uleb(self):
        value = shift = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    def tensor(self):
        dtype, ndim = self.uleb(), self.uleb()
        if dtype != _FLOAT32:
            raise CheckpointFormatError(self.path, f"tensor dtype code {dtype}, expected {_FLOAT32} (float32)")
        shape = [self.uleb() for _ in range(ndim)]
        count = int(np.prod(shape)) if shape else 1
        return torch.from_numpy(np.frombuffer(self.take(4 * count), dtype="<f4").reshape(shape).copy())


def write(stream, optimizer):
    """Writes a torch.optim.AdamW with the trainer's two groups (optimizer.py) to a binary stream."""
    groups = optimizer.param_groups
    every = [p for g in groups for p in g["params"]]
    params = [p for p in every if optimizer.state.get(p)]
    if params and len(params) != len(every):
        # The layout has no parameter index: a gap would shift every later state onto the wrong parameter.
        raise RuntimeError(f"AdamW has state for {len(params)} of {len(every)} parameters; optimizer.bin needs all or none")
    out = io.BytesIO()
    out.write(_uleb(5) + b"AdamW" + _uleb(len(groups)) + _uleb(len(params)))
    for g in groups:
        out.write(struct.pack("<6d", g.get("initial_lr", g["lr"]), g["lr"], *g["betas"], g["eps"], g["weight_decay"]))
        out.write(bytes([int(g["amsgrad"]), int(g.get("maximize", False))]))
    for p in params:
        st = optimizer.state[p]
        out.write(struct.pack("<q", int(st["step"])))
        for key in ("exp_avg", "exp_avg_sq"):
            t = st[key].detach().to("cpu", torch.float32).contiguous()
            out.write(_uleb(_FLOAT32) + _uleb(t.dim()) + b"".join(_uleb(s) for s in t.shape))
            out.write(t.numpy().astype("<f4", copy=False).tobytes())
        out.write(b"\x00")
    stream.write(out.getvalue())


def read_into(path, optimizer):
    """Loads optimizer.bin into the trainer's AdamW (same groups and parameter order). Group options
    other than the learning rate are checked against the run's (they are the run's settings); the
    learning rate is set by the schedule every step."""
    try:
        with open(path, "rb") as f:
            r = _Reader(f.read(), path)
    except FileNotFoundError:
        raise CheckpointFormatError(path, "optimizer state not found") from None
    name = r.take(r.uleb()).decode("utf-8", "replace")
    if name != "AdamW":
        raise CheckpointFormatError(path, f"optimizer is '{name}', expected 'AdamW'")
    n_groups, n_state = r.uleb(), r.uleb()
    groups = optimizer.param_groups
    if n_groups != len(groups):
        raise CheckpointFormatError(path, f"{n_groups} parameter groups, the trainer has {len(groups)}")
    for g in groups:
        _, lr, b1, b2, eps, wd = struct.unpack("<6d", r.take(48))
        amsgrad, _ = r.take(2)
        if (b1, b2, eps, bool(amsgrad)) != (*g["betas"], g["eps"], g["amsgrad"]) or not np.isclose(wd, g["weight_decay"]):
            raise CheckpointFormatError(path, f"AdamW options (betas {b1},{b2}, eps {eps}, weight_decay {wd}, amsgrad {bool(amsgrad)}) "
                                              f"differ from the run's ({g['betas']}, {g['eps']}, {g['weight_decay']}, {g['amsgrad']})")
        g["lr"] = lr
    params = [p for g in groups for p in g["params"]]
    if n_state not in (0, len(params)):
        raise CheckpointFormatError(path, f"state for {n_state} parameters, the model has {len(params)}")
    for p in params[:n_state]:
        step = struct.unpack("<q", r.take(8))[0]
        exp_avg, exp_avg_sq = r.tensor(), r.tensor()
        if r.take(1)[0]:
            r.tensor()   # max_exp_avg_sq: only with amsgrad, which the trainers never use (checked above)
        if exp_avg.shape != p.shape or exp_avg_sq.shape != p.shape:
            raise CheckpointFormatError(path, f"state shape {list(exp_avg.shape)} does not match parameter shape {list(p.shape)}")
        optimizer.state[p] = {"step": torch.tensor(float(step)), "exp_avg": exp_avg.to(p.device), "exp_avg_sq": exp_avg_sq.to(p.device)}
    if r.pos != len(r.data):
        raise CheckpointFormatError(path, f"{len(r.data) - r.pos} trailing bytes after the AdamW state")
