"""Each adapter is behind its own extra: importing it without the framework installed raises
``ltm.MissingDependency`` naming the extra to install, and ``import ltm`` never imports one."""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = [("ltm.integrations.langchain", "langchain_core", "langchain"),
         ("ltm.integrations.langgraph", "langgraph", "langgraph"),
         ("ltm.integrations.openai_agents", "agents", "openai-agents")]


@pytest.mark.parametrize(("module", "framework", "extra"), CASES)
def test_missing_framework_names_the_extra(module: str, framework: str, extra: str) -> None:
    # a fresh interpreter in which the framework cannot be imported (None in sys.modules)
    code = (f"import sys; sys.modules[{framework!r}] = None\n"
            "import ltm\n"
            "try:\n"
            f"    import {module}\n"
            "except ltm.MissingDependency as exc:\n"
            "    print('extra=' + exc.extra, str(exc))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"extra={extra} ") and f"ltm[{extra}]" in run.stdout


def test_import_ltm_imports_no_framework() -> None:
    code = ("import sys, ltm\n"
            "print(sorted(m for m in ('langchain_core', 'langgraph', 'agents', "
            "'ltm.integrations') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stdout + run.stderr
