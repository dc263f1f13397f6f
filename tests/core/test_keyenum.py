"""The enums the UMS hot path looks up by hash by identity (C), and still behave as enums."""

from __future__ import annotations

import pickle

import pytest

from mockle.core.dialects import Dialect, Op
from mockle.core.keyenum import KeyEnum
from mockle.core.sessions import SocketRole


@pytest.mark.parametrize("cls", [Op, Dialect, SocketRole])
def test_hot_path_enums_hash_by_identity(cls: type[KeyEnum]) -> None:
    assert issubclass(cls, KeyEnum)
    assert cls.__hash__ is object.__hash__  # no Python-level __hash__ left in the way
    table = {member: member.value for member in cls}
    for member in cls:
        assert hash(member) == object.__hash__(member)
        assert table[member] == member.value
        assert cls(member.value) is member and cls[member.name] is member
        assert pickle.loads(pickle.dumps(member)) is member
