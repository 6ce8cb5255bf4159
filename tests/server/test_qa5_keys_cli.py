"""`ltm keys revoke` of an unknown (or already revoked) key says so: the message read "no
memory 'nope' for user None", NotFound's wording for memories."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ltm.cli.serve import keys as keys_cmd
from ltm.server.auth import KeyStore


def test_revoking_an_unknown_or_revoked_key_names_the_key(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    ks = KeyStore(store)
    _, key = ks.create(["alice"], "read")
    ks.close()
    runner = CliRunner()
    assert runner.invoke(keys_cmd, ["revoke", "--store", store, key.key_id]).exit_code == 0
    for key_id in ("nope", key.key_id):
        r = runner.invoke(keys_cmd, ["revoke", "--store", store, key_id])
        assert r.exit_code == 3, r.output
        assert "memory" not in r.output and "None" not in r.output, r.output
        assert f"API key {key_id!r}" in r.output, r.output
