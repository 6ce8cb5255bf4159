"""An export is one memory per line for every reader: characters JSON may leave raw in a
string but ``str.splitlines()`` takes for line breaks (NEL, LINE and PARAGRAPH SEPARATOR) are
escaped, and the text comes back unchanged on import."""

from __future__ import annotations

import io
import json
from pathlib import Path

import ltm

TEXT = "first\x85second\u2028third\u2029fourth \u00e9\u4e2d"


def test_unicode_line_breaks_stay_inside_one_line(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "a", embedder="hash") as mem:
        mem.add(TEXT, user="u")
        mem.add("plain", user="u")
        buf = io.StringIO()
        assert mem.export(buf) == 2
    lines = buf.getvalue().splitlines()
    assert len(lines) == 3  # the header and one line per memory
    assert {json.loads(line)["text"] for line in lines[1:]} == {TEXT, "plain"}
    assert "\u00e9\u4e2d" in buf.getvalue()  # other characters stay as they are
    with ltm.open(tmp_path / "b", embedder="hash") as other:
        other.import_(io.StringIO(buf.getvalue()))
        assert {m.text for m in other.list("u")} == {TEXT, "plain"}
