"""ui/ takes only plain data from the engine: records modules, never code that does engine work.

The window must open without the hub client, the OpenAI client, the GGUF reader or llama.cpp
loaded; app/ is where the engine is called.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UI_FILES = sorted((ROOT / "ui").glob("*.py"))
HEAVY = ("huggingface_hub", "openai", "gguf", "llama_cpp")


def _is_records(module: str) -> bool:
    return module.rsplit(".", 1)[-1] == "records"


def _is_engine(module: str) -> bool:
    return module == "engine" or module.startswith("engine.")


def engine_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every engine module the file imports, at any depth of the file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if _is_engine(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and _is_engine(node.module):
            # `from engine.store import records` imports the records module; `from engine.store import
            # Store` imports the package engine.store itself.
            found += [(node.lineno, f"{node.module}.records" if alias.name == "records" else node.module)
                      for alias in node.names]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and _is_engine(node.args[0].value)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")):
            found.append((node.lineno, node.args[0].value))
    return sorted(set(found))


def test_the_ui_files_are_found():
    assert len(UI_FILES) > 5 and ROOT / "ui" / "model_library_dialog.py" in UI_FILES


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.name)
def test_ui_imports_only_records_from_the_engine(path: Path):
    wrong = [f"line {line}: {module}" for line, module in engine_imports(path) if not _is_records(module)]
    assert not wrong, f"ui/{path.name} imports engine code (only engine.*.records modules may be imported): {wrong}"


def test_importing_the_whole_ui_loads_no_heavy_engine_library():
    modules = [f"ui.{p.stem}" for p in UI_FILES if p.stem != "__init__"]
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == [], f"importing ui/ loaded {loaded}"
