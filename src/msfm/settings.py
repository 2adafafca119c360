"""Checking the on/off settings that configs and the bundle command line pass to msfm components."""

from __future__ import annotations

import numpy as np

__all__ = ["require_flag"]


def require_flag(value: object, name: str) -> bool:
    """``value`` as a bool, when it is one.

    The bundle command line (``python -m monai.bundle run ... --resume false``) passes a lowercase ``false`` or
    ``true`` as text, and any text is truthy: a component that tested it would do the opposite of ``false``.
    Python's ``True`` and ``False`` arrive as bools, as do JSON's ``false`` and ``true`` in a config file.

    Raises:
        TypeError: naming the setting, for anything but a bool.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    hint = " (on the command line write True or False: lowercase arrives as text)" if isinstance(value, str) else ""
    raise TypeError(f"{name} must be True or False, got {value!r}{hint}.")
