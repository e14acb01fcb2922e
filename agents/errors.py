"""User-facing errors: the CLI prints their message on one line and exits non-zero."""


class MmsError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class SpecError(MmsError):
    """A model spec string that cannot be turned into a backend."""
