"""The project's user-facing error type: the CLI prints its message on one line and exits non-zero.

Everyone raises it. It lives here because `agents` is the one package every other may import
(DESIGN §2: agents imports nothing of ours, and the top level is fixed).
"""

import errno


class MmsError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""


class SpecError(MmsError):
    """A model spec string that cannot be turned into a backend."""


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def os_reason(exc: OSError) -> str:
    """Why a file operation failed, in words; a full disk (or quota) says so first."""
    said = exc.strerror or str(exc) or type(exc).__name__
    return f"disk full: {said}" if exc.errno in DISK_FULL else said


def os_fix(exc: OSError, otherwise: str) -> str:
    """The fix for a failed file operation: free space when the disk is full, else `otherwise`."""
    return "free some disk space" if exc.errno in DISK_FULL else otherwise
