"""Bad input and faults: every way a run can end in an error, and what it leaves behind.

Each case runs the real command line in a temporary folder and checks the exit status, a one-line
message naming the problem, no traceback, and that files that were there before are byte-identical
after. Faults in the final move are injected by wrapping `os.replace`, the call that moves each file in.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import ROOT, one_line_error, run_script, script_env, snapshot, start_script

CKPT = "sine-wave-rnn-10-10-0"


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--epochs", "ten"], ["--epochs", "invalid int value: 'ten'"]),
        (["--epochs", "2.5"], ["--epochs", "'2.5'"]),
        (["--epochs", "-1"], ["--epochs", "expected 0 or more, got -1"]),
        (["--hidden", "0"], ["--hidden", "expected 1 to 1024, got 0"]),
        (["--hidden", "many"], ["--hidden", "'many'"]),
        (["--seq-width", "0"], ["--seq-width", "1 or more"]),
        (["--lag", "-3"], ["--lag", "0 or more, got -3"]),
        (["--hidden", "1025"], ["--hidden", "1 to 1024, got 1025"]),
        (["--seed", "x"], ["--seed", "'x'"]),
        (["--seed", "+-5"], ["--seed", "invalid int value: '+-5'"]),
        (["--seed", str(2**32)], ["--seed", str(2**32), "0 to 4294967295"]),
        (["--lag", "620", "--seq-width", "10"], ["--lag 620", "--seq-width 10", "at most 628"]),
        (["--seq-width", "700"], ["--seq-width 700", "at most 628"]),
        (["--lr-schedule", "cosine"], ["--lr-schedule", "'cosine'", "as-written", "stepped"]),
        (["--bogus"], ["--bogus"]),
    ],
)
def test_bad_option_values(earlier, args, fragments):
    folder, before = earlier
    proc = run_script(*args, "--out", folder)
    one_line_error(proc, 2, *fragments)
    assert proc.stdout == ""
    assert snapshot(folder) == before


def test_out_is_a_file(tmp_path):
    target = tmp_path / "results.txt"
    target.write_text("keep me")
    line = one_line_error(run_script("--out", target), 2, "--out", str(target), "not a folder")
    assert target.read_text() == "keep me", line


def test_out_is_empty(tmp_path):
    one_line_error(run_script("--out", "", cwd=tmp_path), 2, "--out", "''")
    one_line_error(run_script("--restore", "--out", "", cwd=tmp_path), 2, "--out", "''")
    assert list(tmp_path.iterdir()) == []


def test_out_cannot_be_created(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_line_error(run_script("--out", blocker / "sub"), 2, "--out", "cannot write", str(blocker / "sub"))


def test_out_cannot_be_written(tmp_path):
    if os.geteuid() == 0:
        # Root writes through permission bits; a read-only file system still stops it.
        target = "/proc/sine-wave-test"
    else:
        target = tmp_path / "locked"
        target.mkdir()
        target.chmod(0o500)
    one_line_error(run_script("--out", target), 2, "--out", "cannot write", str(target))


def test_restore_without_a_checkpoint(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    line = one_line_error(run_script("--restore", "--out", folder), 1,
                          str(folder / CKPT) + ".index", "python sine_wave.py")
    assert snapshot(folder) == {"notes.txt": b"mine"}, line
    missing = tmp_path / "never-made"
    one_line_error(run_script("--restore", "--out", missing), 1, str(missing / CKPT))
    assert not missing.exists()  # a failed restore makes no folder either


@pytest.mark.parametrize(
    "damage",
    ["garbage index", "truncated index", "truncated data", "garbage data", "missing data"],
)
def test_restore_from_a_corrupt_checkpoint(earlier, main, damage):
    folder, _ = earlier
    index, data = folder / f"{CKPT}.index", folder / f"{CKPT}.data-00000-of-00001"
    if damage == "garbage index":
        index.write_bytes(os.urandom(600))
    elif damage == "truncated index":
        index.write_bytes(index.read_bytes()[:300])
    elif damage == "truncated data":
        data.write_bytes(data.read_bytes()[:1000])
    elif damage == "garbage data":
        data.write_bytes(os.urandom(data.stat().st_size))
    else:
        data.unlink()
    before = snapshot(folder)
    one_line_error(main("--restore", "--no-show", "--out", folder), 1, "cannot read checkpoint", str(folder / CKPT))
    assert snapshot(folder) == before


def test_restore_with_shapes_that_do_not_fit(earlier, main):
    folder, _ = earlier
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(folder / (CKPT + suffix), folder / ("sine-wave-rnn-20-10-0" + suffix))
    before = snapshot(folder)
    line = one_line_error(main("--restore", "--hidden", "20", "--out", folder), 1, "trained with other settings",
                          "named sine-wave-rnn-10-10-0, it works with:",
                          "--hidden 10 --seq-width 10 --lag 60 --restore")
    assert "nothing written" not in line  # checked before anything is made
    assert snapshot(folder) == before


def run_python(code, *args, timeout=300):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], cwd=ROOT,
                          env=script_env(), capture_output=True, text=True, timeout=timeout)


def test_a_non_finite_error_stops_training_without_saving(earlier, main, monkeypatch):
    import numpy as np
    import sine_wave

    folder, before = earlier
    x, y = sine_wave.gen_seq()
    y[5] = np.nan  # poisons every output from step 5 on
    monkeypatch.setattr(sine_wave, "gen_seq", lambda: (x, y))
    proc = main("--no-show", "--out", folder)
    one_line_error(proc, 1, "training error became nan at epoch 0", "nothing written")
    assert snapshot(folder) == before


def test_a_full_disk_while_saving_leaves_earlier_results_alone(earlier, main, monkeypatch):
    import errno
    import sine_wave

    def full_disk(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    folder, before = earlier
    monkeypatch.setattr(sine_wave, "plot_training_error", full_disk)  # the last figure, after the checkpoint
    proc = main("--no-show", "--epochs", "2", "--out", folder)
    one_line_error(proc, 1, "cannot write the results to", "No space left on device", "untouched")
    assert snapshot(folder) == before  # nor is a scratch folder left behind



def test_a_kill_while_saving_leaves_the_old_checkpoint_whole(earlier, main):
    folder, before = earlier
    proc = run_python("""
        import os, signal, sys, sine_wave
        tf = sine_wave.load_tensorflow()
        real_write = tf.train.Checkpoint.write
        def dying_write(self, prefix, options=None):
            real_write(self, prefix)
            with open(prefix + ".index", "r+b") as f:
                f.truncate(100)  # half-written...
            os.kill(os.getpid(), signal.SIGKILL)  # ...and the power goes
        tf.train.Checkpoint.write = dying_write
        sys.exit(sine_wave.main(sys.argv[1:]))
        """, "--no-show", "--epochs", "2", "--out", folder)
    assert proc.returncode == -signal.SIGKILL
    after = snapshot(folder)
    leftovers = [name for name in after if name not in before]
    assert all(name.startswith(".sine_wave-") for name in leftovers)  # only the dead run's scratch
    assert {k: v for k, v in after.items() if k in before} == before
    # The old checkpoint still restores; the killed run's scratch folder is left (docs/robustness.md).
    proc = main("--restore", "--no-show", "--out", folder)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(folder)[CKPT + ".index"] == before[CKPT + ".index"]


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupting_training(earlier, signum, status):
    folder, before = earlier
    proc = start_script("--no-show", "--epochs", "50000", "--out", folder)
    try:
        first = proc.stdout.readline()
        assert first.startswith("Epoch 0: "), first
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    proc.stderr = stderr
    line = one_line_error(proc, status, signal.Signals(signum).name, "after", "of 50000 epochs", "untouched")
    reached = int(line.split(" after ")[1].split()[0])
    assert reached < 50000 and reached >= (first + stdout).count("Epoch ") - 1
    assert snapshot(folder) == before  # no new checkpoint, no new figures, no scratch left


def test_interrupting_while_tensorflow_loads(earlier):
    folder, before = earlier
    proc = start_script("--no-show", "--out", folder)
    try:
        time.sleep(1.0)  # past start-up, well inside `import tensorflow` (seconds)
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the stderr filter gets none
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    proc.stderr = stderr
    line = one_line_error(proc, 130, "interrupted by SIGINT")
    assert "cannot import" not in line and "already written" not in line
    assert snapshot(folder) == before


def test_a_default_run_keeps_stderr_empty(tmp_path):
    # No --no-show, no display, a window backend asked for: the script must neither block nor warn.
    # (tests/test_run.py checks the plain default run's stderr.)
    proc = run_script("--epochs", "1", "--out", tmp_path / "tk", MPLBACKEND="TkAgg", timeout=120)
    assert proc.returncode == 0
    assert proc.stderr == ""


def test_a_broken_tensorflow_still_says_why(tmp_path):
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "import os\n"
        "os.write(2, b'libtensorflow_framework.so.2: cannot open shared object file\\n')\n"
        "raise ImportError('DLL load failed')\n"
    )
    proc = run_script("--epochs", "1", "--out", tmp_path / "out", PYTHONPATH=str(tmp_path))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    # What TensorFlow printed on its way down reaches the user, then our one line.
    assert "libtensorflow_framework.so.2: cannot open shared object file" in proc.stderr
    assert "cannot import TensorFlow (ImportError: DLL load failed)" in proc.stderr


def inject(main, monkeypatch, action, at, folder):
    """Run with `action(dst)` done at the `at`-th move of a file into `folder`."""
    real, calls = os.replace, []

    def replace(src, dst):
        if os.path.dirname(os.fspath(dst)) == str(folder):
            calls.append(dst)
            if len(calls) == at:
                action(dst)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    proc = main("--no-show", "--epochs", "2", "--seed", "3", "--out", folder)
    monkeypatch.setattr(os, "replace", real)
    return proc


def without_scratch(files):
    return {k: v for k, v in files.items() if not k.startswith(".sine_wave-")}


def test_a_rename_failing_part_way_puts_every_file_back(earlier, main, monkeypatch):
    def fail(dst):
        raise PermissionError(1, "Operation not permitted", dst)

    folder, before = earlier
    proc = inject(main, monkeypatch, fail, 5, folder)
    one_line_error(proc, 1, "Operation not permitted", "untouched")
    assert snapshot(folder) == before  # the checkpoint pair too, and no scratch left


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_moving_in_finishes_the_move_and_says_so(earlier, main, monkeypatch, signum):
    folder, before = earlier
    proc = inject(main, monkeypatch, lambda dst: os.kill(os.getpid(), signum), 2, folder)
    line = one_line_error(proc, 128 + signum, signal.Signals(signum).name, "already written")
    assert "nothing written" not in line
    after = snapshot(folder)
    assert set(after) == set(before)
    assert all(after[name] != before[name] for name in before if name != "sequence.png"), "the whole new set is in"
    assert main("--restore", "--no-show", "--out", folder).returncode == 0




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


def test_restore_refuses_a_checkpoint_of_another_lag(main, tmp_path):
    proc = main("--no-show", "--epochs", "2", "--lag", "30", "--out", tmp_path / "lag30")
    assert proc.returncode == 0, proc.stderr
    before = snapshot(tmp_path / "lag30")
    proc = main("--restore", "--no-show", "--out", tmp_path / "lag30")
    one_line_error(proc, 1, "trained with other settings", "--lag 30 --restore")
    assert snapshot(tmp_path / "lag30") == before
    proc = main("--restore", "--no-show", "--lag", "30", "--out", tmp_path / "lag30")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "lag30" / "metrics.json").read_text())
    assert metrics["options"] == {"hidden": 10, "seq_width": 10, "lag": 30, "seed": 20160310,
                                  "lr_schedule": "as-written", "epochs": 2, "restored": True, "xla": True}


def test_the_restore_hint_names_a_saved_lag_of_zero(main, tmp_path):
    assert main("--no-show", "--epochs", "1", "--lag", "0", "--out", tmp_path).returncode == 0
    one_line_error(main("--restore", "--no-show", "--out", tmp_path), 1,
                   "other settings", "--lag 0 --restore")


def test_a_checkpoint_without_settings_is_named_as_such(tf, main, tmp_path):
    import sine_wave

    net = sine_wave.Network()
    tf.train.Checkpoint(W=net.W, b=net.b).write(str(tmp_path / CKPT))
    proc = main("--restore", "--no-show", "--out", tmp_path)
    one_line_error(proc, 1, "is not this version's", "python sine_wave.py --out")
    # The previous version's checkpoint: settings, but a Keras LSTM where 0.7's LSTMCell should be.
    settings = tf.Variable('{"hidden": 10, "seq_width": 10, "lag": 60}')
    tf.train.Checkpoint(lstm=tf.train.Checkpoint(kernel=tf.Variable(tf.zeros((10, 40)))), W=net.W, b=net.b,
                        settings=settings).write(str(tmp_path / CKPT))
    one_line_error(main("--restore", "--no-show", "--out", tmp_path), 1, "is not this version's")


def test_a_big_network_trains(main, tmp_path):
    proc = main("--no-show", "--epochs", "2", "--hidden", "1024", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("Epoch ") == 2 and (tmp_path / "sine-wave-rnn-1024-10-0.index").is_file()


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


def test_a_closed_pipe_ends_the_run_like_a_full_stdout(earlier):
    folder, before = earlier
    proc = start_script("--no-show", "--epochs", "300", "--out", folder)
    assert proc.stdout.readline().startswith("Epoch 0: ")
    proc.stdout.close()  # the reader goes away, as `| head -1` does
    proc.stdout = None
    _, proc.stderr = proc.communicate(timeout=120)
    one_line_error(proc, 1, "cannot write the log to standard output", "Broken pipe")
    assert snapshot(folder) == before


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
    assert proc.returncode == 2 and b"is not UTF-8" in proc.stderr and proc.stderr.count(b"\n") == 1


@pytest.mark.parametrize("where", ["checkpoint", "step"])
def test_tensorflow_errors_are_one_line(earlier, tf, main, monkeypatch, where):
    import sine_wave

    def fail(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device\nmore detail")

    folder, before = earlier
    if where == "checkpoint":
        monkeypatch.setattr(tf.train.Checkpoint, "write", fail)
    else:
        monkeypatch.setattr(sine_wave, "make_train_op", lambda *args, **kwargs: fail)
    proc = main("--no-show", "--epochs", "2", "--out", folder)
    if where == "checkpoint":
        one_line_error(proc, 1, "cannot write the results to", "writing the checkpoint failed",
                       "No space left on device", "untouched")
    else:
        one_line_error(proc, 1, "TensorFlow failed: ResourceExhaustedError: No space left on device", "--no-xla")
    assert snapshot(folder) == before
