"""jsondoc.too_deep at its edges: the shortest text nesting too deep is still walked."""

from __future__ import annotations

import orjson
import pytest

from mockle.core.errors import InvalidRequest
from mockle.core.jsondoc import MAX_DEPTH, load_json, too_deep


@pytest.mark.parametrize("as_bytes", [False, True])
def test_the_shortest_too_deep_text_is_refused_and_one_level_less_is_not(as_bytes: bool) -> None:
    deepest_ok = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    shortest_bad = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    for raw, deep in ((deepest_ok, False), (shortest_bad, True)):
        raw_text = raw.encode() if as_bytes else raw
        assert too_deep(orjson.loads(raw_text), raw_text) is deep
    assert load_json(deepest_ok.encode()) is not None
    with pytest.raises(InvalidRequest, match="more than 100 levels deep"):
        load_json(shortest_bad.encode() if as_bytes else shortest_bad)


def test_many_brackets_inside_a_short_string_are_not_depth() -> None:
    raw = orjson.dumps({"a": "[" * 150})
    assert len(raw) < 2 * (MAX_DEPTH + 1)
    assert too_deep(orjson.loads(raw), raw) is False
