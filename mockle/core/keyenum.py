"""An :class:`enum.Enum` for members used as dictionary keys on hot paths.

``enum.Enum.__hash__`` is a Python function (the hash of the member's name), so every dict or
set lookup keyed by a plain member runs Python code; a UMS frame makes about ten such lookups
(handler tables, response types, schemas, notification types). Members are singletons that
compare by identity, so hashing them by identity is equally correct and stays in C.

Reading a member as a class attribute (``Dialect.AMS``) is slow too on CPython 3.11: the enum
metaclass defines ``__getattr__``, so every attribute read on the class goes through a Python
slot hook (~0.25 µs, ten times a global's read). Modules whose enums are read per frame or per
request export their members as plain module names as well (``dialects.AMS``,
``sessions.CONSUMER_ROLE``), which hot code reads instead.
"""

from __future__ import annotations

import enum


class KeyEnum(enum.Enum):
    """An enumeration hashed by identity (a dict lookup keyed by a member stays in C)."""

    __hash__ = object.__hash__
