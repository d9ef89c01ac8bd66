"""Agent output in events: what PostgreSQL cannot store becomes U+FFFD, nothing else changes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dursor_contracts.events import CompletedData, EndedData, LogData, ProgressData
from dursor_contracts.text import REPLACEMENT, storable


def test_log_lines_progress_summary_and_reason_are_made_storable() -> None:
    log = LogData(stream="stdout", lines=["a\x00b", "lone \udcff byte", "plain"])
    assert log.lines == ["a\ufffdb", "lone \ufffd byte", "plain"]
    assert ProgressData(message="\x00step").message == "\ufffdstep"
    assert CompletedData(summary="done\x00", files_changed=[]).summary == "done\ufffd"
    assert EndedData(reason="exit\ud800").reason == "exit\ufffd"


def unstorable(char: str) -> bool:
    """NUL, or a UTF-16 surrogate (alone in a Python str, it has no UTF-8 encoding)."""
    return char == "\x00" or 0xD800 <= ord(char) <= 0xDFFF


@given(st.text(alphabet=st.characters(codec=None)))
def test_storable_text_encodes_as_utf8_and_holds_no_nul(text: str) -> None:
    stored = storable(text)
    stored.encode("utf-8")  # raises on a lone surrogate
    assert "\x00" not in stored
    assert stored == "".join(REPLACEMENT if unstorable(c) else c for c in text)


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")))
def test_storable_text_leaves_text_without_such_characters_alone(text: str) -> None:
    assert storable(text) == text
