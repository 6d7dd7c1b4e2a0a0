import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session", autouse=True)
def _limit_threads():
    import torch  # a required dependency: a broken install must fail, not be skipped

    torch.set_num_threads(1)
    yield


@pytest.fixture
def shared_dir():
    if not SHARED.exists():
        pytest.skip("../shared is not present (benchmark-sized data)")
    return SHARED


@pytest.fixture
def run_cli(tmp_path):
    """Run the ``scribe`` CLI in-process; returns (rc, stdout, stderr)."""
    def _run(*argv, capsys=None):
        from engine.cli.main import main

        return main([str(a) for a in argv])
    return _run
