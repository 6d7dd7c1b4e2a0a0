"""User-facing errors: a clear message, never a traceback."""


class ScribeError(Exception):
    """An error whose message is meant for the user (bad input, bad file, failed run)."""


class DataError(ScribeError):
    """A corpus, ink file or dataset that cannot be used."""


class CheckpointError(ScribeError):
    """A checkpoint or model package that is missing, corrupt or untrusted."""


class TrainingError(ScribeError):
    """Training cannot continue (repeated NaN/inf, out of memory, ...)."""


class ExportError(ScribeError):
    """The model could not be exported (or the exported graph disagrees with torch)."""
