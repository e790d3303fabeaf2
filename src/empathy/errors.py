"""The one exception type for a user's mistake (a missing file, a bad config).

The CLI prints its message on one line and exits 2 without a traceback; any
other exception is a bug and keeps its traceback.
"""


class UserError(Exception):
    """Bad input from the user: the message names what and where."""
