"""The one exception type for mistakes a user can fix (bad config, missing files)."""


class UserError(Exception):
    """A problem the user caused and can fix; the entry points print it as one line
    and exit with status 2. The message says what is wrong and what to do."""
