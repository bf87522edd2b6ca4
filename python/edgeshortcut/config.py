"""The model shape (docs/FORMAT.md section 1) and the checkpoint's config.json (section 2).

One immutable record, as `src/Core/ModelConfig.cs`: same JSON keys, same defaults, same validation
rules and messages, so a config either trainer writes reads back equal in the other.
"""
import json
import os
from dataclasses import dataclass, field, replace

from .errors import CheckpointFormatError, InvalidModelConfigError

FORMAT_NAME = "edgeshortcut-checkpoint"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
BYTE_KIND, TOKEN_FILE_KIND = "byte", "token-file"


@dataclass(frozen=True)
class ModelConfig:
    """Vocab V, context n_ctx, layers L, width d, heads H, feed-forward width d_ff, taps S (1-based,
    empty = plain GPT), feature-MLP width m, tied head, LayerNorm eps, exit depths of the recipe."""
    vocab_size: int = 256
    n_ctx: int = 256
    n_layer: int = 6
    d_model: int = 128
    n_head: int = 4
    d_ff: int = 512
    taps: tuple = (1, 2, 3, 4, 5)
    d_feature: int = 512
    tied_embeddings: bool = True
    ln_eps: float = 1e-5
    exit_depths: tuple = field(default=())

    @staticmethod
    def create(layers, dim, heads, context, vocab_size=256, shortcut=True):
        """PAPER.md's defaults for a size: d_ff = m = 4d, S = 1..L-1 (or none for the baseline)."""
        return ModelConfig(vocab_size=vocab_size, n_ctx=context, n_layer=layers, d_model=dim, n_head=heads,
                           d_ff=4 * dim, d_feature=4 * dim, taps=tuple(range(1, layers)) if shortcut else ())

    @property
    def is_shortcut(self):
        return len(self.taps) > 0

    @property
    def self_attention_blocks(self):
        """Ordinary blocks B: L-1 for the shortcut model (the last is the shortcut block), L for the baseline."""
        return self.n_layer - 1 if self.is_shortcut else self.n_layer

    @property
    def all_exits(self):
        """The recipe's exit depths followed by the full depth L-1."""
        return tuple(self.exit_depths) + (self.n_layer - 1,)

    def with_(self, **changes):
        return replace(self, **changes)

    def validate(self):
        """Checks every field; raises InvalidModelConfigError naming the bad JSON key (C#'s messages)."""
        def require(ok, key, value, rule):
            if not ok:
                raise InvalidModelConfigError(key, f"Invalid model config: '{key}' = {value} {rule}.")
        require(2 <= self.vocab_size <= 1 << 24, "vocab_size", self.vocab_size, "must be in 2..16777216")
        require(1 <= self.n_ctx <= 1 << 20, "n_ctx", self.n_ctx, "must be in 1..1048576")
        require(2 <= self.n_layer <= 1024, "n_layer", self.n_layer, "must be in 2..1024 (the last block is special)")
        require(1 <= self.d_model <= 1 << 16, "d_model", self.d_model, "must be in 1..65536")
        require(1 <= self.n_head <= self.d_model, "n_head", self.n_head, "must be in 1..d_model")
        require(self.n_head >= 1 and self.d_model % self.n_head == 0, "n_head", self.n_head, f"must divide d_model ({self.d_model})")
        require(1 <= self.d_ff <= 1 << 18, "d_ff", self.d_ff, "must be in 1..262144")
        for i, k in enumerate(self.taps):
            require(1 <= k <= self.n_layer - 1, "taps", k, f"each tapped layer must be in 1..{self.n_layer - 1}")
            require(i == 0 or k > self.taps[i - 1], "taps", ",".join(map(str, self.taps)), "must be strictly increasing")
        require(not self.is_shortcut or 1 <= self.d_feature <= 1 << 18, "d_feature", self.d_feature, "must be in 1..262144")
        require(self.ln_eps > 0 and self.ln_eps != float("inf"), "ln_eps", self.ln_eps, "must be a positive finite number")
        exits = ",".join(map(str, self.exit_depths))
        require(not self.exit_depths or self.is_shortcut, "exit_depths", exits, "requires a shortcut model (taps is empty)")
        for i, e in enumerate(self.exit_depths):
            require(1 <= e <= self.n_layer - 2, "exit_depths", e,
                    f"each exit depth must be in 1..{self.n_layer - 2} (the full depth {self.n_layer - 1} is always an exit and is not listed)")
            require(i == 0 or e > self.exit_depths[i - 1], "exit_depths", exits, "must be strictly increasing")
            require(self.taps[0] <= e, "exit_depths", e, f"needs at least one tapped layer <= it (the first tap is {self.taps[0]})")
        return self

    def to_json(self):
        return {"vocab_size": self.vocab_size, "n_ctx": self.n_ctx, "n_layer": self.n_layer, "d_model": self.d_model,
                "n_head": self.n_head, "d_ff": self.d_ff, "taps": list(self.taps), "d_feature": self.d_feature,
                "tied_embeddings": self.tied_embeddings, "ln_eps": self.ln_eps, "exit_depths": list(self.exit_depths)}

    @staticmethod
    def from_json(obj):
        """Reads the JSON object; absent keys take the defaults (a file without exit_depths has no recipe)."""
        known = {k: obj[k] for k in ModelConfig.__dataclass_fields__ if k in obj}
        for key in ("taps", "exit_depths"):
            if key in known:
                if not isinstance(known[key], list):
                    raise InvalidModelConfigError(key, f"Invalid model config: '{key}' must be a list.")
                known[key] = tuple(known[key])
        if "ln_eps" in known:
            known["ln_eps"] = float(known["ln_eps"])
        return ModelConfig(**known)

    def same_shape(self, other):
        """Equality as C#'s ModelConfig.Equals: ln_eps compared at float32 precision (C# stores a float)."""
        import numpy as np
        return (self.with_(ln_eps=0.0) == other.with_(ln_eps=0.0)
                and np.float32(self.ln_eps) == np.float32(other.ln_eps))


@dataclass(frozen=True)
class TokenizerSpec:
    """`byte` (V = 256, id = UTF-8 byte) or `token-file` (little-endian uint16 ids, declared V)."""
    kind: str = BYTE_KIND
    vocab_size: int = 256

    def validate(self):
        if self.kind == BYTE_KIND and self.vocab_size != 256:
            raise InvalidModelConfigError("tokenizer.vocab_size", f"Invalid tokenizer: kind 'byte' has vocab_size 256, not {self.vocab_size}.")
        if self.kind == TOKEN_FILE_KIND and not 2 <= self.vocab_size <= 65536:
            raise InvalidModelConfigError("tokenizer.vocab_size", f"Invalid tokenizer: a uint16 token file has vocab_size in 2..65536, not {self.vocab_size}.")
        if self.kind not in (BYTE_KIND, TOKEN_FILE_KIND):
            raise InvalidModelConfigError("tokenizer.kind", f"Invalid tokenizer: unknown kind '{self.kind}' (expected 'byte' or 'token-file').")
        return self


def write_config(directory, model, tokenizer):
    """Writes DIR/config.json (the caller makes the directory's commit atomic)."""
    doc = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "model": model.to_json(),
           "tokenizer": {"kind": tokenizer.kind, "vocab_size": tokenizer.vocab_size}}
    with open(os.path.join(directory, CONFIG_FILE), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def read_config(directory):
    """Reads and validates DIR/config.json: format name and version, model config, tokenizer.
    Returns (ModelConfig, TokenizerSpec); raises CheckpointFormatError naming the file."""
    path = os.path.join(directory, CONFIG_FILE)
    if not os.path.isdir(directory):
        raise CheckpointFormatError(directory, "checkpoint directory not found")
    if not os.path.isfile(path):
        raise CheckpointFormatError(path, "config.json not found: not a checkpoint directory")
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointFormatError(path, f"not valid JSON: {e}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("model"), dict) or not isinstance(doc.get("tokenizer"), dict):
        raise CheckpointFormatError(path, "missing 'model' or 'tokenizer'")
    if doc.get("format") != FORMAT_NAME:
        raise CheckpointFormatError(path, f"format is '{doc.get('format')}', expected '{FORMAT_NAME}'")
    if doc.get("format_version") != FORMAT_VERSION:
        raise CheckpointFormatError(path, f"unknown format_version {doc.get('format_version')} (this build reads {FORMAT_VERSION})")
    try:
        model = ModelConfig.from_json(doc["model"]).validate()
        tok = doc["tokenizer"]
        tokenizer = TokenizerSpec(str(tok.get("kind")), int(tok.get("vocab_size", 0))).validate()
    except (InvalidModelConfigError, TypeError, ValueError) as e:
        raise CheckpointFormatError(path, str(e)) from e
    if tokenizer.vocab_size != model.vocab_size:
        raise CheckpointFormatError(path, f"tokenizer vocab_size {tokenizer.vocab_size} differs from model vocab_size {model.vocab_size}")
    return model, tokenizer
