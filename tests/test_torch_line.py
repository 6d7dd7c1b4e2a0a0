"""The torch line: importing the torch-free layers, the app's modules and the presets never loads torch.

import-linter (pyproject.toml, run by .ci/run) checks the imports statically; these tests check what
actually happens at import time, including imports made by module-level code.
"""

import json
import os
import pkgutil
import subprocess
import sys

import studio


def _modules(package, skip=()) -> list[str]:
    names = [package.__name__]
    for m in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not any(m.name == s or m.name.startswith(s + ".") for s in skip):
            names.append(m.name)
    return names


def _loads_torch(modules: list[str]) -> list[str]:
    """The modules after whose import ``torch`` is in sys.modules (each imported in order, one process)."""
    code = ("import importlib, sys\n"
            "bad = []\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            "    if 'torch' in sys.modules:\n"
            "        bad.append(name); break\n"
            "print(__import__('json').dumps(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_torch_free_layers_import_without_torch():
    import engine.core
    import engine.data
    import engine.runtime

    mods = [m for pkg in (engine.core, engine.data, engine.runtime) for m in _modules(pkg)]
    mods += ["engine", "engine.training", "engine.training.presets", "engine.cli", "engine.cli.main"]
    assert len(mods) > 15
    assert _loads_torch(mods) == []


def test_every_app_module_imports_without_torch():
    """No studio module imports torch at module level (the training child process imports it later)."""
    mods = _modules(studio)
    assert "studio.train.worker" in mods and "studio.handwriting.view" in mods
    assert _loads_torch(mods) == []


def test_the_check_sees_torch_when_it_is_imported():
    assert _loads_torch(["engine.core.vocab", "engine.models.rnn"]) == ["engine.models.rnn"]
