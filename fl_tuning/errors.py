"""Errors about the user's input: the command line prints them as one line."""


class InputError(Exception):
    """Bad user input (a file, a config, a checkpoint); the message says which."""


class ConfigError(InputError):
    """A model config that is missing, unreadable or inconsistent."""


class CheckpointError(InputError):
    """A checkpoint that is missing or does not match the model config."""


class OutputError(Exception):
    """An output that cannot be written (not a folder, no permission, a full disk); the
    message names the path and the cause. What was there before is left as it was."""


# The command line's exit codes (documented in docs/running.md).
EXIT_BAD_INPUT, EXIT_CANNOT_WRITE = 2, 3


class RunInProgress(Exception):
    """The run folder's run is being trained by another process (fl_tuning.run_lock)."""


EXIT_RUNNING_ELSEWHERE = 4
