"""The one exception type a user can cause and fix; scripts print it without a traceback."""


class UserError(Exception):
    """A problem in the user's data or configuration: the message names the file/key and the fix."""
