"""With a display, each figure opens in a window when the post calls plt.show().

Runs the real command line on a virtual X display (Xvfb), presses `q` in each
window as it appears (Matplotlib's key for closing a figure), and records how
far the training log had got at that moment.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import SCRIPT, script_env

RESULTS = [
    "sequence.png",
    "sequence-and-network-output.png",
    "sine-wave-rnn-10-10-0.index",
    "sine-wave-rnn-10-10-0.data-00000-of-00001",
    "training-complete.png",
    "training-error.png",
    "metrics.json",
    "predictions.csv",
]

needs_x = pytest.mark.skipif(
    not (shutil.which("Xvfb") and shutil.which("xdotool")),
    reason="needs Xvfb and xdotool (.ci/run installs them)",
)


@pytest.fixture
def display():
    """A display of its own: Xvfb picks a free number and writes it to a pipe (-displayfd), so two
    tests in two workers never share one."""
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1000x24"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=[write],
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()  # written once the server accepts connections
    assert number and server.poll() is None, "Xvfb did not start"
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


def visible_windows(env):
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", r"\.png$"],
        env=env,
        capture_output=True,
        text=True,
    )
    names = []
    for wid in found.stdout.split():
        name = subprocess.run(
            ["xdotool", "getwindowname", wid], env=env, capture_output=True, text=True
        )
        if name.stdout.strip():  # else closed since the search
            names.append((wid, name.stdout.strip()))
    return names


@needs_x
def test_figures_open_when_the_post_shows_them(display, tmp_path):
    env = script_env(DISPLAY=display, MPLBACKEND="TkAgg")
    env.pop("CI", None)  # a user at a desk, not a CI job
    log, errors = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    seen = {}  # window title -> epoch lines printed when it appeared
    with open(log, "w") as stdout, open(errors, "w") as stderr_file:
        proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--epochs", "3", "--out", str(tmp_path / "out")],
            env=env,
            stdout=stdout,
            stderr=stderr_file,
        )
        try:
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                for wid, name in visible_windows(env):
                    if name not in seen:
                        seen[name] = log.read_text().count("Epoch ")
                        # The run must wait for this window: nothing after it happens yet.
                        time.sleep(1.0)
                        assert proc.poll() is None
                    # Focus the window, then type `q` as a keyboard would (XTEST).
                    subprocess.run(
                        ["xdotool", "windowfocus", "--sync", wid, "key", "q"],
                        env=env,
                        capture_output=True,
                    )
                time.sleep(0.2)
            proc.wait(timeout=30)
        finally:
            proc.kill()
    stderr = errors.read_text()
    assert proc.returncode == 0, stderr
    assert stderr == ""
    assert seen == {
        "sequence.png": 0,  # after gen_seq, before anything trains
        "sequence-and-network-output.png": 0,  # the untrained output, before training
        "training-error.png": 3,  # at the end, after all epochs
        "training-complete.png": 3,
    }


@needs_x
def test_ctrl_c_while_the_last_windows_are_open_says_the_results_were_written(display, tmp_path):
    env = script_env(DISPLAY=display, MPLBACKEND="TkAgg")
    env.pop("CI", None)
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--epochs", "2", "--out", str(tmp_path / "out")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline, closed = time.monotonic() + 120, set()
        while time.monotonic() < deadline:
            names = {name: wid for wid, name in visible_windows(env)}
            if "training-complete.png" in names:
                break
            for name in set(names) & {"sequence.png", "sequence-and-network-output.png"} - closed:
                # The post's first two figures: look, then close each once, as a reader would
                time.sleep(0.5)
                subprocess.run(
                    ["xdotool", "windowfocus", "--sync", names[name], "key", "q"],
                    env=env,
                    capture_output=True,
                )
                closed.add(name)
            time.sleep(0.2)
        else:
            pytest.fail("the last figures never opened")
        time.sleep(1.0)
        assert proc.poll() is None  # waiting on the open windows
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    wrote = [line for line in stdout.splitlines() if line.startswith("Wrote ")]
    assert len(wrote) == 1, stdout  # one line naming every result
    assert sorted(wrote[0].split(": ", 1)[1].split(", ")) == sorted(RESULTS), wrote[0]
    lines = stderr.strip().splitlines()
    assert (
        len(lines) == 1 and "already written" in lines[0] and "nothing written" not in lines[0]
    ), stderr
