"""The project's user-facing error type: the CLI prints its message on one line and exits non-zero.

Everyone raises it. It lives here because `agents` is the one package every other may import
(DESIGN §2: agents imports nothing of ours, and the top level is fixed).
"""


class MmsError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class SpecError(MmsError):
    """A model spec string that cannot be turned into a backend."""
