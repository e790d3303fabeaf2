"""Exceptions the CLI reports without a traceback.

`UserError`, a user's mistake (a missing file, a bad config): the CLI prints
its message on one line and exits 2. `StageFailed`, a pipeline task that
failed: the CLI prints the message (with the end of the task's output) and
exits 1. Any other exception is a bug and keeps its traceback.
"""


class UserError(Exception):
    """Bad input from the user: the message names what and where."""


class StageFailed(Exception):
    """A pipeline task failed; the message says which and shows the end of its output."""
