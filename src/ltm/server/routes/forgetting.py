"""Forgetting: one memory, a session or everything before a time, a whole user."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from .. import models as M
from ..errors import ApiError, retry
from . import MemoryId, Routes, U


def install(app: FastAPI, r: Routes) -> None:
    @app.delete(U + "/memories/{memory_id}", response_model=M.ReceiptOut, tags=["forgetting"],
                operation_id="forgetMemory")
    def forget_memory(memory_id: str = MemoryId, user: str = Depends(r.write)) -> M.ReceiptOut:
        """Erase one memory (and derived memories whose every source is gone)."""
        return M.ReceiptOut.of(retry(lambda: r.mem.forget(memory_id, user=user)))

    @app.post(U + "/forget", response_model=M.ReceiptOut, tags=["forgetting"])
    def forget_filter(body: M.ForgetIn, user: str = Depends(r.write)) -> M.ReceiptOut:
        """Erase a session and/or everything that happened before a time."""
        if body.session is None and body.before is None:
            raise ApiError(422, "invalid_input", "say what to forget: session and/or before "
                           "(DELETE /v1/users/{user} erases everything)")
        return M.ReceiptOut.of(retry(lambda: r.mem.forget(user=user, session=body.session,
                                                         before=body.before)))

    @app.delete(U, response_model=M.ReceiptOut, tags=["forgetting"])
    def forget_user(user: str = Depends(r.admin)) -> M.ReceiptOut:
        """Erase every memory of the user (admin right)."""
        return M.ReceiptOut.of(retry(lambda: r.mem.forget(user=user)))
