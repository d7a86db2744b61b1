"""The embedding examples run as a user would run them."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_capi_python_example():
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "capi_example.py")],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")
    assert "NULL buffer rejected" in out.stdout


def test_c_example_compiles_links_and_runs(tmp_path):
    from dfpengine import capi
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.fail("no C compiler: the set-up script installs gcc")
    lib_dir = os.path.dirname(capi.LIBRARY_PATH)
    exe = tmp_path / "c_api_example"
    build = subprocess.run([cc, "-std=c11", "-O1", os.path.join(ROOT, "examples", "c_api_example.c"),
                            "-I", os.path.join(ROOT, "native", "include"), "-L", lib_dir,
                            "-ldfpengine", f"-Wl,-rpath,{lib_dir}", "-lm", "-o", str(exe)],
                           capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "negative M rejected" in out.stdout
