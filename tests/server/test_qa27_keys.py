"""API keys with a user or label no face takes (session 12 sweep). ``KeyStore.create``
(``ltm keys create``) refused a 300-character user with 'a key needs at least one user',
took a user with a lone surrogate (a key for a user no request can name), and a label with
a lone surrogate raised UnicodeEncodeError from sqlite3. Now each user is checked as every
face checks one (``'*'`` still stands for every user) and the label is text of at most 1,000
characters; nothing is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ltm.cli import main
from ltm.errors import InvalidInput
from ltm.server.auth import KeyStore


@pytest.mark.parametrize(("users", "label", "words"), [
    (["u" * 300], None, "at most 256 characters"),
    (["a\ud800"], None, "valid Unicode"),
    ([" "], None, "non-empty string"),
    (["alice"], "\ud800", "label"),
    (["alice"], "x" * 1001, "label"),
], ids=["long-user", "surrogate-user", "blank-user", "surrogate-label", "long-label"])
def test_users_and_labels_no_face_takes(tmp_path: Path, users: list[str], label: str | None,
                                        words: str) -> None:
    keys = KeyStore(tmp_path)
    try:
        with pytest.raises(InvalidInput, match=words):
            keys.create(users, "read", label=label)
        assert keys.list() == []
        _, made = keys.create(["alice", "*"], "read", label="ok")
        assert made.users == ("alice", "*")
    finally:
        keys.close()


def test_the_command_line_says_which_user(tmp_path: Path) -> None:
    got = CliRunner().invoke(main, ["--store", str(tmp_path / "s"), "keys", "create", "-u",
                                    "u" * 300])
    assert got.exit_code == 2 and "at most 256 characters" in got.stderr, got.output
