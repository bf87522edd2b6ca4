"""Every training setting in one record, as `src/Trainer/Training/TrainingOptions.cs`: the same
fields under the same JSON keys (training_state.json's "options"), the same defaults and the same
validation messages, so either trainer resumes a run the other started.

One difference of meaning, none of value: `batch` is the global number of sequences per
micro-batch, summed over all ranks. With one process it is the C# trainer's `--batch`.
"""
import dataclasses
from dataclasses import dataclass

from .config import BYTE_KIND, TOKEN_FILE_KIND, ModelConfig, TokenizerSpec
from .errors import InvalidModelConfigError, UsageError

_FLAG_OF_FIELD = {"n_layer": "--layers", "d_model": "--dim", "n_head": "--heads", "n_ctx": "--context", "taps": "--taps",
                  "d_feature": "--feature-dim", "vocab_size": "--token-vocab", "exit_depths": "--exit-depths"}


@dataclass(frozen=True)
class TrainingOptions:
    data: str = ""
    val_data: str = None
    out: str = "runs/default"
    token_vocab: int = None
    shortcut: bool = True
    layers: int = 6
    dim: int = 128
    heads: int = 4
    context: int = 256
    taps: tuple = None              # None = all of 1..L-1
    feature_dim: int = None         # None = 4d
    tied_embeddings: bool = True
    exit_depths: tuple = None       # None or () = no exit recipe
    exit_loss_weight: float = 1.0
    token_exit_rate: float = 0.0
    exit_from_step: int = 0         # late exit recipe: the plain objective before this step
    steps: int = 2000
    batch: int = 16                 # global sequences per micro-batch
    grad_accum: int = 1
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: int = 100
    weight_decay: float = 0.1
    dropout: float = 0.0
    scaled_feature_init: bool = False
    clip: float = 1.0
    seed: int = 1337
    eval_every: int = 250
    eval_batch: int = 16
    threads: int = 0

    def with_(self, **changes):
        return dataclasses.replace(self, **changes)

    @property
    def tokenizer(self):
        return TokenizerSpec(TOKEN_FILE_KIND, self.token_vocab) if self.token_vocab is not None else TokenizerSpec(BYTE_KIND, 256)

    def model_config(self):
        """The validated model these options describe."""
        c = ModelConfig.create(self.layers, self.dim, self.heads, self.context, self.tokenizer.vocab_size, self.shortcut)
        c = c.with_(tied_embeddings=self.tied_embeddings)
        if self.shortcut and self.taps is not None:
            c = c.with_(taps=tuple(self.taps))
        if self.feature_dim is not None:
            c = c.with_(d_feature=self.feature_dim)
        if self.exit_depths:
            c = c.with_(exit_depths=tuple(self.exit_depths))
        return c.validate()

    def validate(self):
        """Raises UsageError naming the flag of the first bad setting (the C# trainer's messages)."""
        def require(ok, flag, rule):
            if not ok:
                raise UsageError(f"{flag} {rule}.")
        finite = lambda v: v == v and v not in (float("inf"), float("-inf"))
        require(bool(self.data and self.data.strip()), "--data", "is required")
        require(bool(self.out and self.out.strip()), "--out", "is required")
        require(self.steps >= 1, "--steps", f"must be >= 1 (got {self.steps})")
        require(self.batch >= 1, "--batch", f"must be >= 1 (got {self.batch})")
        require(self.grad_accum >= 1, "--grad-accum", f"must be >= 1 (got {self.grad_accum})")
        require(self.lr > 0 and finite(self.lr), "--lr", f"must be a positive number (got {self.lr})")
        require(0 <= self.min_lr <= self.lr, "--min-lr", f"must be in 0..--lr (got {self.min_lr})")
        require(self.warmup >= 0, "--warmup", f"must be >= 0 (got {self.warmup})")
        require(self.weight_decay >= 0 and finite(self.weight_decay), "--weight-decay", f"must be >= 0 (got {self.weight_decay})")
        require(0 <= self.dropout < 1, "--dropout", f"must be in [0, 1) (got {self.dropout})")
        require(self.clip >= 0 and finite(self.clip), "--clip", f"must be >= 0 (got {self.clip})")
        require(self.eval_every >= 1, "--eval-every", f"must be >= 1 (got {self.eval_every})")
        require(self.eval_batch >= 1, "--eval-batch", f"must be >= 1 (got {self.eval_batch})")
        require(self.threads >= 0, "--threads", f"must be >= 0 (got {self.threads})")
        require(self.shortcut or self.taps is None, "--taps", "cannot be set for --arch baseline (the baseline has no tapped layers)")
        require(self.exit_loss_weight >= 0 and finite(self.exit_loss_weight), "--exit-loss-weight", f"must be >= 0 (got {self.exit_loss_weight})")
        require(0 <= self.token_exit_rate < 1, "--token-exit-rate", f"must be in [0, 1) (got {self.token_exit_rate})")
        require(self.token_exit_rate == 0 or bool(self.exit_depths), "--token-exit-rate", "requires --exit-depths (the depths a token may exit at)")
        require(0 <= self.exit_from_step < self.steps, "--exit-from-step", f"must be in 0..--steps - 1 (got {self.exit_from_step})")
        require(self.exit_from_step == 0 or bool(self.exit_depths), "--exit-from-step", "requires --exit-depths")
        require(self.token_vocab is None or 2 <= self.token_vocab <= 65536, "--token-vocab", f"must be in 2..65536 (got {self.token_vocab})")
        try:
            self.model_config()
        except InvalidModelConfigError as e:
            raise UsageError(f"{_FLAG_OF_FIELD.get(e.field, e.field)}: {e}") from e
        return self

    def to_json(self):
        d = dataclasses.asdict(self)
        for key in ("taps", "exit_depths"):
            d[key] = None if d[key] is None else list(d[key])
        return d

    @staticmethod
    def from_json(obj):
        """Reads the "options" object of a training_state.json written by either trainer."""
        fields = {f.name: f for f in dataclasses.fields(TrainingOptions)}
        values = {}
        for key, value in obj.items():
            if key not in fields:
                continue   # a key a newer trainer added: ignored, as System.Text.Json does
            if key in ("taps", "exit_depths"):
                value = None if value is None else tuple(int(v) for v in value)
            elif fields[key].type is float:
                value = float(value)
            values[key] = value
        return TrainingOptions(**values)
