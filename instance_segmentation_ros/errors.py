"""The package's error base, so that a caller reports any of its errors in one clause."""


class InstanceSegmentationError(Exception):
    """A problem the user can fix: the message says what to fix, in one line."""


def describe_os_error(error: OSError) -> str:
    """An OSError as the end of a one-line message: 'permission denied', without errno or path."""
    return (error.strerror or str(error)).lower()
