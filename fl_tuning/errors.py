"""Errors about the user's input: the command line prints them as one line."""


class InputError(Exception):
    """Bad user input (a file, a config, a checkpoint); the message says which."""


class ConfigError(InputError):
    """A model config that is missing, unreadable or inconsistent."""


class CheckpointError(InputError):
    """A checkpoint that is missing or does not match the model config."""
