"""The one error of the release path: ``ReleaseError``."""


class ReleaseError(RuntimeError):
    """The release cannot go out as it is; the message says why and what to look at."""
