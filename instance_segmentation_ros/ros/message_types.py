"""Message classes named by a parameter, as `ros2 topic` names them: 'pkg/msg/Type'."""

import importlib


def get_message_type(name: str) -> type:
    """The message class of 'pkg/msg/Type' (or 'pkg/Type'); ValueError, one line, if unknown.

    Imported directly rather than through rosidl_runtime_py, which a pip set-up has only with
    the ROS tools added.
    """
    parts = name.strip().split('/')
    if len(parts) == 2:
        parts.insert(1, 'msg')
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"message type '{name}' is not of the form pkg/msg/Type")
    try:
        return getattr(importlib.import_module(f'{parts[0]}.{parts[1]}'), parts[2])
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"unknown message type '{name}' ({exc})") from None
