import subprocess
import sys


def test_engine_import_is_light():
    code = "import engine, engine.core.sampling, engine.core.vocab, engine.core.events, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
