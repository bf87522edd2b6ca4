"""Typed errors and the exit codes of the EdgeShortcut tools: 0 ok, 1 runtime error, 2 usage error.

Library code raises these with a message that names the file, flag or field; only the entry points
(train.py, eval.py) turn them into one line on stderr and an exit code, as the C# tools do.
"""

EXIT_OK = 0
EXIT_RUNTIME_ERROR = 1
EXIT_USAGE_ERROR = 2


class UsageError(Exception):
    """Bad input that the user can fix: a flag value, a missing or malformed file, a mismatched
    checkpoint. Exit code 2."""


class CorpusError(UsageError):
    """A corpus that cannot be used: missing, empty, malformed, or shorter than one window."""

    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = path, problem


class CheckpointFormatError(UsageError):
    """A checkpoint file that is missing, malformed, or does not match its config or the run."""

    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = path, problem


class InvalidModelConfigError(UsageError):
    """A model config field out of range; `field` is its JSON key (docs/FORMAT.md section 1)."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
