"""Shared helpers: the script's folder on sys.path, and running its command line."""

import importlib.metadata
import os
import re
import shutil
import signal
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SCRIPT = ROOT / "sine_wave.py"
# The tests send signals: none ignored here or in the runs started, whoever started the tests (the
# script keeps an ignored one ignored, as nohup wants)
for _s in signal.SIGINT, signal.SIGTERM, signal.SIGHUP:
    if signal.getsignal(_s) == signal.SIG_IGN:
        signal.signal(_s, signal.default_int_handler if _s == signal.SIGINT else signal.SIG_DFL)


def tf_version():
    """The installed TensorFlow's (major, minor), read without importing it."""
    return tuple(int(v) for v in re.findall(r"\d+", importlib.metadata.version("tensorflow"))[:2])


def script_env(**extra):
    """The environment of a user on a machine with no display."""
    hidden = ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env.pop("PYTHONUNBUFFERED", None)  # the script must flush its own log lines
    env.update(extra)
    return env


def run_script(*args, cwd=None, timeout=300, **env):
    """Run `python sine_wave.py ARGS` as a user would; return the CompletedProcess."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        cwd=cwd,
        env=script_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_script(*args, **env):
    """Start `python sine_wave.py ARGS` in the background, its output piped, in a process group of
    its own (as a terminal's foreground job: `os.killpg` then signals it as Ctrl-C does)."""
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), *map(str, args)],
        env=script_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def snapshot(folder):
    """{relative path: bytes} of every file under `folder`."""
    folder = Path(folder)
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """One default run of the command line (100 epochs), shared by the tests that read it."""
    out = tmp_path_factory.mktemp("trained") / "output"
    proc = run_script("--no-show", "--out", out)
    assert proc.returncode == 0, proc.stderr
    return proc, out


xla_flags_before = os.environ.get("XLA_FLAGS")


@pytest.fixture(scope="session")
def tf():
    import sine_wave

    return sine_wave.load_tensorflow(xla=True)


@pytest.fixture
def main(tf, capfd):
    """sine_wave.main(ARGS) in this process (TensorFlow already loaded): its status (argparse's
    exit's too), stdout and stderr."""
    import sine_wave

    def run(*args):
        capfd.readouterr()
        try:
            code = sine_wave.main([*map(str, args)])
        except SystemExit as exc:  # argparse's exit on a bad option
            code = exc.code
        out, err = capfd.readouterr()  # file descriptors 1 and 2: TensorFlow's own C++ lines too
        return types.SimpleNamespace(returncode=code, stdout=out, stderr=err)

    return run


@pytest.fixture
def earlier(trained, tmp_path):
    """A folder holding a good earlier run's results, and its snapshot."""
    _, out = trained
    folder = tmp_path / "output"
    shutil.copytree(out, folder)
    return folder, snapshot(folder)


def one_line_error(proc, status, *fragments):
    assert proc.returncode == status, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# The post's learning-rate chain, exactly as written: the reference for tests/test_model.py (its
# rates) and tests/test_style.py (the story's lines)
POST_CHAIN = """
new_lr = 1e-2
if i > 25:
    new_lr = 5e-3
elif i > 50:
    new_lr = 1e-4
elif i > 75:
    new_lr = 1e-5
"""
