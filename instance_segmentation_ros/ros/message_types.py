"""Message classes named by a parameter, as `ros2 topic` names them: 'pkg/msg/Type'."""

from rosidl_runtime_py.utilities import get_message


def get_message_type(name: str) -> type:
    """The message class of 'pkg/msg/Type' (or 'pkg/Type'); ValueError, one line, if unknown."""
    try:
        return get_message(name.strip())
    except (AttributeError, ImportError, ValueError) as exc:
        raise ValueError(f"unknown message type '{name}' ({exc})") from None
