"""Checkpoint directories (docs/FORMAT.md section 2), as `src/Core/Checkpoint.cs` and
`src/Trainer/Training/TrainingCheckpoint.cs` write and read them:

    config.json           format, version, model config, tokenizer
    model.safetensors     fp32 weights, names and order of docs/FORMAT.md section 3
    optimizer.bin         AdamW state (optimizer_file.py)           trainer checkpoints only
    training_state.json   step, tokens, val NLL, data position, options   trainer checkpoints only

A directory is committed as a whole: written into a hidden `.NAME.tmp-*` beside it, then the old
`NAME` is renamed to `.NAME.old`, the new one renamed in, and `.NAME.old` deleted. A kill at any
moment leaves the previous checkpoint (perhaps as `.NAME.old`, which recover() moves back) or the
new one, never a mix. Only rank 0 writes.
"""
import glob
import json
import os
import shutil
import uuid

from . import optimizer_file, safetensors
from .config import WEIGHTS_FILE, read_config, write_config
from .errors import CheckpointFormatError
from .model import ShortcutGpt
from .tensor_names import tensor_names

OPTIMIZER_FILE = "optimizer.bin"
STATE_FILE = "training_state.json"


def check_tensors(path, config, tensors):
    """Raises unless `tensors` holds exactly the tensors `config` implies (names and shapes)."""
    expected = tensor_names(config)
    for name, shape in expected:
        if name not in tensors:
            raise CheckpointFormatError(path, f"tensor '{name}' required by the config is missing")
        if list(tensors[name].shape) != shape:
            raise CheckpointFormatError(path, f"tensor '{name}' has shape {list(tensors[name].shape)}, the config implies {shape}")
    extra = sorted(set(tensors) - {n for n, _ in expected})
    if extra:
        raise CheckpointFormatError(path, f"tensor '{extra[0]}' is not part of the model the config describes")


def load_weights(directory):
    """(ModelConfig, TokenizerSpec, {name: tensor}) of a checkpoint directory, checked against each other."""
    recover(directory)
    config, tokenizer = read_config(directory)
    path = os.path.join(directory, WEIGHTS_FILE)
    tensors, _ = safetensors.read(path)
    check_tensors(path, config, tensors)
    return config, tokenizer, tensors


def load_model(directory):
    """(eval-mode ShortcutGpt, TokenizerSpec) of a checkpoint directory."""
    config, tokenizer, tensors = load_weights(directory)
    model = ShortcutGpt(config)
    model.load_state_dict(tensors, strict=True)
    return model.eval(), tokenizer


def save_training_checkpoint(directory, model, optimizer, tokenizer, state):
    """Writes config, weights, optimizer state and training state, committed atomically."""
    full = os.path.abspath(directory)
    parent, name = os.path.dirname(full), os.path.basename(full)
    os.makedirs(parent, exist_ok=True)
    for stale in glob.glob(os.path.join(parent, f".{name}.tmp-*")):   # left by a writer that was killed
        shutil.rmtree(stale, ignore_errors=True)
    temp = os.path.join(parent, f".{name}.tmp-{uuid.uuid4().hex}")
    os.makedirs(temp)
    try:
        _write_file(os.path.join(temp, WEIGHTS_FILE),
                    lambda f: safetensors.write(f, list(model.state_dict().items()), {"format": "pt"}))
        write_config(temp, model.config, tokenizer)
        _write_file(os.path.join(temp, OPTIMIZER_FILE), lambda f: optimizer_file.write(f, optimizer))
        _write_file(os.path.join(temp, STATE_FILE), lambda f: f.write(json.dumps(state, indent=2).encode("utf-8")))
        _fsync_dir(temp)
        _commit(temp, full)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def read_state(directory):
    """training_state.json of a checkpoint directory, as a dict."""
    recover(directory)
    path = os.path.join(directory, STATE_FILE)
    if not os.path.isfile(path):
        raise CheckpointFormatError(path, "training_state.json not found: not a resumable training checkpoint")
    try:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
    except ValueError as e:
        raise CheckpointFormatError(path, f"not valid JSON: {e}") from e
    if not isinstance(state, dict) or not isinstance(state.get("options"), dict) or not isinstance(state.get("step"), int):
        raise CheckpointFormatError(path, "missing 'step' or 'options'")
    return state


def recover(directory):
    """If a kill struck between the two renames of a commit, put `.NAME.old` back. A no-op otherwise."""
    full = os.path.abspath(directory)
    old = _old_path(full)
    if not os.path.isdir(full) and os.path.isdir(old):
        os.rename(old, full)


def _commit(temp, target):
    old = _old_path(target)
    if os.path.isdir(old):
        if os.path.isdir(target):
            shutil.rmtree(old)            # stale leftover of a finished commit
        else:
            os.rename(old, target)        # recover before replacing
    if os.path.isdir(target):
        os.rename(target, old)
    try:
        os.rename(temp, target)
    except OSError:
        # A reader's recover() moved `.NAME.old` back in the instant between the renames: set it aside again.
        if os.path.isdir(old):
            shutil.rmtree(old)
        os.rename(target, old)
        os.rename(temp, target)
    _fsync_dir(os.path.dirname(target))
    if os.path.isdir(old):
        shutil.rmtree(old)


def _old_path(full):
    return os.path.join(os.path.dirname(full), f".{os.path.basename(full)}.old")


def _write_file(path, write):
    with open(path, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
