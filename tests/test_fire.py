"""Every promise under fire: faults and signals while the results move in, killed runs, other
runs' folders, checkpoints from other settings, closed or full streams, a garbled XLA_FLAGS.

Faults are injected in a subprocess by wrapping `os.replace`, the call that moves each file in.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, run_script, script_env, snapshot, start_script
from test_misuse import CKPT, earlier, one_line_error, run_python  # noqa: F401 (earlier is a fixture)

INJECT = """
import os, signal, sys, sine_wave
real, calls = os.replace, []
def replace(src, dst):
    if os.path.basename(os.path.dirname(dst)) == os.path.basename(sys.argv[-1]):  # a move into --out
        calls.append(dst)
        if len(calls) == int(os.environ["AT"]):
            {action}
    return real(src, dst)
os.replace = replace
sys.exit(sine_wave.main(sys.argv[1:]))
"""


def inject(action, at, folder, *args):
    code = INJECT.replace("{action}", action)
    return subprocess.run([sys.executable, "-c", code, "--no-show", "--epochs", "2", "--seed", "3", *args,
                           "--out", str(folder)], cwd=ROOT, env=script_env(AT=str(at)),
                          capture_output=True, text=True, timeout=300)


def without_scratch(files):
    return {k: v for k, v in files.items() if not k.startswith(".sine_wave-")}


def test_a_rename_failing_part_way_puts_every_file_back(earlier):
    folder, before = earlier
    proc = inject("raise PermissionError(1, 'Operation not permitted', dst)", 5, folder)
    one_line_error(proc, 1, "Operation not permitted", "untouched")
    assert snapshot(folder) == before  # the checkpoint pair too, and no scratch left


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_moving_in_finishes_the_move_and_says_so(earlier, signum):
    folder, before = earlier
    proc = inject(f"os.kill(os.getpid(), {int(signum)})", 2, folder)
    line = one_line_error(proc, 128 + signum, signal.Signals(signum).name, "already written")
    assert "nothing written" not in line
    after = snapshot(folder)
    assert set(after) == set(before)
    assert all(after[name] != before[name] for name in before if name != "sequence.png"), "the whole new set is in"
    assert run_script("--restore", "--no-show", "--out", folder).returncode == 0


def test_a_kill_mid_move_is_rolled_back_by_the_next_run(earlier):
    folder, before = earlier
    proc = inject("os.kill(os.getpid(), signal.SIGKILL)", 4, folder)
    assert proc.returncode == -signal.SIGKILL
    assert without_scratch(snapshot(folder)) != before  # three new files are in: a mixed set
    # The next run into the folder undoes the cut move first, whatever it then does (here: refuses).
    proc = run_script("--restore", "--lag", "30", "--out", folder)
    one_line_error(proc, 1, "--lag 60, not --lag 30")
    assert snapshot(folder) == before


def test_a_live_runs_scratch_folder_is_never_removed(earlier):
    fcntl = pytest.importorskip("fcntl")
    folder, _ = earlier
    live, dead = folder / ".sine_wave-live", folder / ".sine_wave-dead"
    live.mkdir()
    dead.mkdir()
    (live / "metrics.json").write_text("staged by a run in another container")
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as that run holds it, whatever its PID looks like from here
    try:
        proc = run_script("--no-show", "--epochs", "1", "--out", folder)
        assert proc.returncode == 0, proc.stderr
        assert (live / "metrics.json").read_text() == "staged by a run in another container"
        assert not dead.exists()
    finally:
        os.close(fd)


def test_repeated_ctrl_c_is_one_line(earlier):
    folder, before = earlier
    proc = start_script("--no-show", "--epochs", "50000", "--out", folder)
    try:
        assert proc.stdout.readline().startswith("Epoch 0: ")
        for _ in range(4):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.02)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    proc.stderr = stderr
    one_line_error(proc, 130, "interrupted by SIGINT", "untouched")
    assert snapshot(folder) == before


def test_restore_refuses_a_checkpoint_of_another_lag(earlier, tmp_path):
    folder, _ = earlier
    proc = run_script("--no-show", "--epochs", "2", "--lag", "30", "--out", tmp_path / "lag30")
    assert proc.returncode == 0, proc.stderr
    before = snapshot(tmp_path / "lag30")
    proc = run_script("--restore", "--no-show", "--out", tmp_path / "lag30")
    one_line_error(proc, 1, "trained with --lag 30, not --lag 60", "--lag 30 --restore")
    assert snapshot(tmp_path / "lag30") == before
    proc = run_script("--restore", "--no-show", "--lag", "30", "--out", tmp_path / "lag30")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "lag30" / "metrics.json").read_text())
    assert metrics["checkpoint"] == {"hidden": 10, "seq_width": 10, "lag": 30, "seed": 20160310,
                                     "lr_schedule": "as-written", "epochs": 2}


def test_the_restore_hint_names_a_saved_lag_of_zero(tmp_path):
    assert run_script("--no-show", "--epochs", "1", "--lag", "0", "--out", tmp_path).returncode == 0
    one_line_error(run_script("--restore", "--no-show", "--out", tmp_path), 1,
                   "trained with --lag 0, not --lag 60", "--lag 0 --restore")


def test_a_checkpoint_without_settings_is_named_as_such(tf, tmp_path):
    import sine_wave

    net = sine_wave.build_network()
    opt = sine_wave.build_optimizer(net)
    tf.train.Checkpoint(lstm=net.lstm, W=net.W, b=net.b, optimizer=opt).write(str(tmp_path / CKPT))
    proc = run_script("--restore", "--no-show", "--out", tmp_path)
    one_line_error(proc, 1, "records no settings", "older sine_wave.py")


def test_the_top_of_the_hidden_range_runs(tmp_path):
    proc = run_script("--no-show", "--epochs", "1", "--hidden", "512", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "sine-wave-rnn-512-10-0.index").is_file()


def test_a_garbled_xla_flags_is_shown_not_swallowed(tmp_path):
    proc = run_script("--epochs", "1", "--out", tmp_path, XLA_FLAGS="--nonsense")
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "XLA_FLAGS" in lines[0] and "--nonsense" in lines[0], proc.stderr


@pytest.mark.parametrize("redirect", ["2>&-", ">&-", "<&-"])
def test_closed_streams(tmp_path, redirect):
    proc = subprocess.run(f'"{sys.executable}" "{ROOT / "sine_wave.py"}" --epochs 1 --out "{tmp_path}" {redirect}',
                          shell=True, env=script_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "cannot" not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "metrics.json").is_file()


def test_a_full_stdout_is_named(earlier):
    folder, before = earlier
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, str(ROOT / "sine_wave.py"), "--epochs", "1", "--out", str(folder)],
                              env=script_env(), stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    one_line_error(proc, 1, "cannot write the log to standard output", "No space left on device")
    assert snapshot(folder) == before


def test_the_out_folder_removed_mid_run_is_an_error(tmp_path):
    folder = tmp_path / "out"
    proc = start_script("--no-show", "--epochs", "300", "--out", folder)
    try:
        assert proc.stdout.readline().startswith("Epoch 0: ")
        shutil.rmtree(folder)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    proc.stderr = stderr
    one_line_error(proc, 1, "cannot write the results to")
    assert not (folder.exists() and any(n.endswith(".png") for n in os.listdir(folder)))


def test_bad_out_names_are_one_line(tmp_path):
    long = tmp_path / "/".join(["d" * 200] * 21)
    proc = run_script("--out", long)
    one_line_error(proc, 2, "--out", "too long")
    proc = subprocess.run([sys.executable, str(ROOT / "sine_wave.py"), "--out", os.fsencode(str(tmp_path)) + b"/caf\xe9"],
                          env=script_env(), capture_output=True, timeout=60)
    assert proc.returncode == 2 and b"not valid UTF-8" in proc.stderr and proc.stderr.count(b"\n") == 1


@pytest.mark.parametrize("where", ["checkpoint", "step"])
def test_tensorflow_errors_are_one_line(earlier, where):
    folder, before = earlier
    proc = run_python(f"""
        import sys, sine_wave
        tf = sine_wave.import_tensorflow()
        def fail(*args, **kwargs):
            raise tf.errors.ResourceExhaustedError(None, None, "No space left on device\\nmore detail")
        if "{where}" == "checkpoint":
            tf.train.Checkpoint.write = fail
        else:
            sine_wave.make_train_step = lambda *args, **kwargs: fail
        sys.exit(sine_wave.main(sys.argv[1:]))
        """, "--no-show", "--epochs", "2", "--out", folder)
    if where == "checkpoint":
        one_line_error(proc, 1, "cannot write the results to", "writing the checkpoint failed",
                       "No space left on device", "untouched")
    else:
        one_line_error(proc, 1, "TensorFlow failed: ResourceExhaustedError: No space left on device", "--no-xla")
    assert snapshot(folder) == before
