"""The public surface is curated: a change to `ltm.__all__` must be deliberate."""

import ltm

EXPECTED = {
    "AsyncMemoryStore", "EmbedderMismatch", "ForgetReceipt", "HistoryEvent", "Hit",
    "ImportReport", "InvalidInput",
    "LtmError", "Memory", "MemoryStore", "MissingDependency", "NotFound", "ScopeError",
    "StoreBusy", "StoreError", "open",
    "open_async", "Page", "UserStats",
}


def test_exported_members() -> None:
    assert set(ltm.__all__) == EXPECTED
    for name in ltm.__all__:
        assert getattr(ltm, name) is not None


def test_errors_share_one_base() -> None:
    for name in ("EmbedderMismatch", "InvalidInput", "MissingDependency", "NotFound",
                 "ScopeError", "StoreBusy", "StoreError"):
        assert issubclass(getattr(ltm, name), ltm.LtmError)
