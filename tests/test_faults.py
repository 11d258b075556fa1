"""The faults hostile passes found (issues 20 and 25), each as found.

Each case runs as a user would and checks: at most one stderr line, no traceback, the documented
exit status, --out all old or all new, no scratch folder, nothing else left behind, no user file
moved.
"""

import json
import os
import shutil
import signal
import sys

import pytest
from conftest import one_line_error, run_script, snapshot, tf_version

# Matplotlib's and Keras's own settings and caches, which they make in HOME on import
LIBRARIES = (".cache/matplotlib/", ".config/matplotlib/", ".keras/")


def test_a_folder_named_as_a_result_is_the_users_and_stays(earlier, main):
    folder, _ = earlier
    (folder / "metrics.json").unlink()
    (folder / "metrics.json").mkdir()
    (folder / "metrics.json" / "notes.txt").write_text("precious")
    before = snapshot(folder)
    line = one_line_error(
        main("--no-show", "--no-xla", "--epochs", "1", "--out", folder),
        2,
        repr(str(folder / "metrics.json")),
        "not a file this script wrote",
        "untouched",
    )
    assert snapshot(folder) == before, line  # the folder, the note and every result as they were


def test_a_link_named_as_a_result_is_not_replaced(earlier, main, tmp_path):
    folder, _ = earlier
    (tmp_path / "elsewhere.png").write_bytes(b"mine")
    (folder / "sequence.png").unlink()
    (folder / "sequence.png").symlink_to(tmp_path / "elsewhere.png")
    proc = main("--no-show", "--no-xla", "--epochs", "1", "--out", folder)
    one_line_error(proc, 2, "sequence.png", "not a file")
    assert os.path.islink(folder / "sequence.png")
    assert (tmp_path / "elsewhere.png").read_bytes() == b"mine"


def test_a_result_the_run_does_not_make_goes_only_when_it_is_a_file(earlier, main, tmp_path):
    """training.gif without --animate is an earlier run's: removed, and said so; a folder or a
    link by that name is not a file this script wrote, and stays."""
    folder, _ = earlier
    proc = main("--no-show", "--no-xla", "--animate", "--epochs", "5", "--out", folder)
    assert proc.returncode == 0, proc.stderr
    from PIL import Image

    with Image.open(folder / "training.gif") as gif:
        assert gif.n_frames == 2  # epochs 0 and 4, the last
    proc = main("--no-show", "--no-xla", "--epochs", "1", "--out", folder)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.splitlines()[-1].endswith("; removed an earlier run's training.gif")
    assert not (folder / "training.gif").exists()
    (folder / "training.gif").mkdir()
    (folder / "training.gif" / "notes.txt").write_text("mine")
    proc = main("--no-show", "--no-xla", "--epochs", "1", "--out", folder)
    assert proc.returncode == 0 and "removed" not in proc.stdout, proc.stderr
    assert (folder / "training.gif" / "notes.txt").read_text() == "mine"
    shutil.rmtree(folder / "training.gif")
    (tmp_path / "mine.gif").write_bytes(b"GIF89a")
    (folder / "training.gif").symlink_to(tmp_path / "mine.gif")
    proc = main("--no-show", "--no-xla", "--epochs", "1", "--out", folder)
    assert proc.returncode == 0 and "removed" not in proc.stdout, proc.stderr
    assert (folder / "training.gif").is_symlink()
    assert (tmp_path / "mine.gif").read_bytes() == b"GIF89a"


def test_restore_removes_the_training_figures_it_does_not_make(earlier, main):
    folder, before = earlier
    proc = main("--restore", "--no-show", "--out", folder)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    removed = "; removed an earlier run's sequence-and-network-output.png, training-error.png"
    assert proc.stdout.splitlines()[-1].endswith(removed), proc.stdout
    after = snapshot(folder)
    assert set(after) == set(before) - {"sequence-and-network-output.png", "training-error.png"}
    ckpt = "sine-wave-rnn-10-10-0"
    for name in (ckpt + ".index", ckpt + ".data-00000-of-00001"):
        assert after[name] == before[name]  # restored from, never rewritten


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_the_final_clean_up_is_one_line(earlier, main, monkeypatch, signum):
    """A signal in the last milliseconds (removing the scratch folder) waits for it."""
    import sine_wave

    folder, _ = earlier
    real = shutil.rmtree

    def rmtree(path, *args, **kwargs):
        if os.path.basename(str(path)).startswith(".sine_wave-"):
            os.kill(os.getpid(), signum)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(sine_wave.shutil, "rmtree", rmtree)
    proc = main("--no-show", "--no-xla", "--epochs", "1", "--out", folder)
    monkeypatch.setattr(sine_wave.shutil, "rmtree", real)
    name = signal.Signals(signum).name
    line = one_line_error(proc, 128 + signum, f"interrupted by {name};", "already written")
    assert not [n for n in os.listdir(folder) if n.startswith(".sine_wave-")], line
    assert json.loads((folder / "metrics.json").read_text())["epochs"] == 1  # the new set is in


def test_a_closed_pipe_after_the_results_are_in_says_so(main, monkeypatch, tmp_path):
    """The reader of the log goes away between the move and the `Wrote` line."""
    import errno
    import io

    class Pipe(io.StringIO):
        def write(self, text):
            if text.startswith("Wrote "):
                raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))
            return super().write(text)

    monkeypatch.setattr(sys, "stdout", Pipe())
    proc = main("--no-show", "--no-xla", "--epochs", "1", "--out", tmp_path / "out")
    line = one_line_error(proc, 1, "cannot write the log to standard output", "Broken pipe")
    assert line.endswith(f"; the results were already written to {str(tmp_path / 'out')!r}")
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["epochs"] == 1


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("garbage", "XLA_FLAGS='garbage' is not flags"),
        ("--xla_bogus_flag=1", "in XLA_FLAGS: --xla_bogus_flag=1"),
        ("--xla_cpu_enable_fast_math=maybe", "value maybe for flag xla_cpu_enable_fast_math"),
    ],
)
def test_bad_xla_flags_are_one_line_and_leave_nothing(tmp_path, value, fragment):
    """Issue 25 row 13: XLA's own flag errors (it ends the process) are one line."""
    proc = run_script("--no-show", "--epochs", "1", "--out", tmp_path / "out", XLA_FLAGS=value)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    if "maybe" in value and tf_version() < (2, 19):  # TF 2.16's XLA says so and goes on
        assert proc.returncode == 0 and proc.stdout.startswith("Epoch 0: "), proc.stdout
        return
    assert proc.returncode != 0 and proc.stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing made: TensorFlow loads before the first file


def test_a_bad_matplotlib_backend_is_one_line(tmp_path):
    proc = run_script("--epochs", "1", "--out", tmp_path / "out", MPLBACKEND="bogus")
    one_line_error(proc, 1, "cannot load Matplotlib", "'bogus' is not a valid value for backend")
    assert not (tmp_path / "out").exists()


def home_env(home, scratch):
    """A user whose HOME is `home`, with no XDG folders of their own and TMPDIR `scratch`."""
    return dict(HOME=str(home), TMPDIR=str(scratch), XDG_CACHE_HOME="", XDG_CONFIG_HOME="")


def test_a_home_with_a_space_gives_a_clean_run(trained, tmp_path):
    """Issue 25 rows 6 and 7: HOME='.../John Smith' (the parent writable): the same log as
    anywhere else, an empty stderr, nothing made at '.../John'. As a user at a machine with no
    display runs it: no --no-show, a window backend asked for; it must neither block nor warn."""
    home, scratch = tmp_path / "John Smith", tmp_path / "tmp"
    home.mkdir()
    scratch.mkdir()
    env = home_env(home, scratch)
    proc = run_script("--epochs", "3", "--out", tmp_path / "out", MPLBACKEND="TkAgg", **env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    epochs = [line for line in proc.stdout.splitlines() if line.startswith("Epoch ")]
    assert epochs == trained[0].stdout.splitlines()[:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["John Smith", "out", "tmp"]
    assert [p for p in snapshot(home) if not p.startswith(LIBRARIES)] == []
    assert list(scratch.iterdir()) == []
    assert (tmp_path / "out" / "metrics.json").is_file()


def test_an_unwritable_home_with_a_space_leaves_nothing_behind(tmp_path):
    """Row 6: HOME='/proc/john smith', its parent not writable (even by root)."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = home_env("/proc/john smith", scratch)
    proc = run_script("--no-show", "--no-xla", "--epochs", "1", "--out", tmp_path / "out", **env)
    assert proc.returncode == 0, proc.stderr
    # Matplotlib's own advice about its cache, if any
    assert len(proc.stderr.splitlines()) <= 1 and "Traceback" not in proc.stderr
    assert "matplotlib" in proc.stderr.lower() or proc.stderr == ""
    assert list(scratch.iterdir()) == []  # Matplotlib's temporary folder went
    assert (tmp_path / "out" / "metrics.json").is_file()


def test_an_out_too_long_for_the_checkpoint_is_refused_before_training(main, tmp_path):
    long = str(tmp_path / "/".join(["d" * 200] * 20))
    long = long[:4000]  # makedirs succeeds; the checkpoint's temporary files would not fit
    proc = main("--no-show", "--out", long)
    one_line_error(proc, 2, "--out", "too long")
    assert "Epoch" not in proc.stdout


def test_a_dangling_link_as_out_is_not_a_folder(main, tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    one_line_error(main("--out", tmp_path / "link"), 2, "is not a folder")
    assert not (tmp_path / "nowhere").exists()


def test_a_second_run_moves_its_files_in_only_when_the_first_is_done(earlier):
    """Two runs into one folder take turns in the move: here the test holds the folder's lock, as
    a first run would."""
    import fcntl
    import time

    from conftest import start_script

    folder, before = earlier
    lock = os.open(folder, os.O_RDONLY)
    fcntl.flock(lock, fcntl.LOCK_EX)
    proc = start_script("--no-show", "--no-xla", "--epochs", "2", "--seed", "5", "--out", folder)
    try:
        lines = []
        # The metrics are out: the move is next
        while not any(line.startswith("(y repeats") for line in lines):
            lines.append(proc.stdout.readline())
            assert lines[-1], "the run ended early"
        time.sleep(2.0)
        now = snapshot(folder)
        assert proc.poll() is None  # waiting for the lock
        # Its files still in its scratch folder, nothing moved yet
        assert all(k.startswith(".sine_wave-") for k in now.keys() - before.keys())
        assert {k: v for k, v in now.items() if k in before} == before
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0 and stderr == "", stderr
    assert stdout.count("Wrote ") == 1
    assert json.loads((folder / "metrics.json").read_text())["options"]["seed"] == 5


class Finalized:
    """An object whose finalizer sends SIGTERM: Python drops the KeyboardInterrupt raised there."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.skipif(
    sys.platform != "linux", reason="elsewhere a signal may reach Python after __del__ returns"
)
def test_a_signal_whose_raise_a_finalizer_swallowed_still_ends_the_run(earlier, main, monkeypatch):
    """A signal that lands inside a finalizer still ends the run with its status, in one line: in
    training (which stops at the next epoch), after training but before the move (nothing
    written), and in the last milliseconds (as a hostile pass found, TF's __del__)."""
    import sine_wave

    folder, before = earlier
    real_epoch, real_commit = sine_wave.Output.epoch, sine_wave.Output.commit

    def epoch(self, i, *args):
        if i == 0:
            Finalized()  # collected at once: the signal lands in its __del__
        return real_epoch(self, i, *args)

    monkeypatch.setattr(sine_wave.Output, "epoch", epoch)
    proc = main("--no-show", "--no-xla", "--epochs", "5", "--out", folder)
    line = one_line_error(proc, 143, "interrupted by SIGTERM", "nothing written")
    assert proc.stdout.count("Epoch ") <= 2, proc.stdout  # stopped at the next epoch
    assert snapshot(folder) == before, line

    real_figure = sine_wave.Output.figure

    def figure(self, name, *args, **kwargs):
        if name == "training-complete.png":
            Finalized()
        return real_figure(self, name, *args, **kwargs)

    monkeypatch.setattr(sine_wave.Output, "epoch", real_epoch)
    monkeypatch.setattr(sine_wave.Output, "figure", figure)
    proc = main("--no-show", "--no-xla", "--epochs", "2", "--out", folder)
    line = one_line_error(proc, 143, "interrupted by SIGTERM", "nothing written")
    assert snapshot(folder) == before, line

    def commit(self):
        gone = real_commit(self)
        Finalized()
        return gone

    monkeypatch.setattr(sine_wave.Output, "figure", real_figure)
    monkeypatch.setattr(sine_wave.Output, "commit", commit)
    proc = main("--no-show", "--no-xla", "--epochs", "1", "--out", folder)
    one_line_error(proc, 143, "interrupted by SIGTERM;", "already written")
    assert json.loads((folder / "metrics.json").read_text())["epochs"] == 1


SIGNAL_AT_IMPORT = """
import os, signal, sys

class SignalAtImport:
    def find_spec(self, name, path=None, target=None):
        if name == os.environ["SIGNAL_AT_IMPORT"]:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, SignalAtImport())
"""


@pytest.mark.parametrize(
    "module",
    [
        # not numpy: before main installs its handlers, Ctrl-C gets Python's own traceback
        # (docs/robustness.md, narrower promises)
        "matplotlib.pyplot",
        "matplotlib.backends.backend_agg",
        "tensorflow.python.framework.ops",  # deep inside `import tensorflow`
    ],
)
def test_ctrl_c_during_an_import_is_one_line(earlier, tmp_path, module):
    """Issue 25 row 10: Ctrl-C while Matplotlib imports its backend (or numpy, or TensorFlow)."""
    folder, before = earlier
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SIGNAL_AT_IMPORT)
    proc = run_script(
        "--no-show",
        "--epochs",
        "2",
        "--out",
        folder,
        PYTHONPATH=str(hook),
        SIGNAL_AT_IMPORT=module,
    )
    line = one_line_error(proc, 130, "interrupted by SIGINT")
    assert "Epoch" not in proc.stdout and "written" not in line.replace("nothing written", "")
    assert snapshot(folder) == before


SIGNAL_AT_LINES = """
import os, signal, sys

class Stream:
    \"\"\"A standard stream that sends SIGINT as it is given a line starting with a prefix.\"\"\"

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        if text.startswith(tuple(os.environ["SIGNAL_AT_LINES"].split("|"))):
            os.kill(os.getpid(), signal.SIGINT)
        return self.stream.write(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)

sys.stdout, sys.stderr = Stream(sys.stdout), Stream(sys.stderr)
"""


def test_a_second_ctrl_c_while_the_error_line_prints_is_still_one_line(earlier, tmp_path):
    """Row 9, at its worst moment: Ctrl-C at epoch 3, and again as the one error line goes out
    (the run's handlers gone, Python's own not yet ignored)."""
    folder, before = earlier
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SIGNAL_AT_LINES)
    lines = "Epoch 3:|sine_wave.py: error:"
    env = dict(PYTHONPATH=str(hook), SIGNAL_AT_LINES=lines)
    proc = run_script("--no-show", "--no-xla", "--epochs", "10", "--out", folder, **env)
    one_line_error(proc, 130, "interrupted by SIGINT after 3 of 10 epochs", "untouched")
    assert proc.stdout.count("Epoch ") == 3
    assert snapshot(folder) == before


@pytest.mark.parametrize("how", ["raised", "turned into an ImportError", "swallowed"])
def test_a_signal_while_matplotlib_loads_ends_the_run(earlier, main, monkeypatch, how):
    """Row 10, as a library may handle it: the signal's KeyboardInterrupt raised through, made an
    ImportError (the hostile pass saw one), or dropped. The run ends interrupted all the same."""
    import matplotlib

    folder, before = earlier
    real_use = matplotlib.use

    def use(*args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            if how == "raised":
                raise
            if how == "turned into an ImportError":
                raise ImportError("cannot load backend 'agg'") from None
        return real_use(*args, **kwargs)

    monkeypatch.setattr(matplotlib, "use", use)
    proc = main("--no-show", "--no-xla", "--epochs", "3", "--out", folder)
    line = one_line_error(proc, 130, "interrupted by SIGINT")
    assert "Matplotlib" not in line and "already written" not in line
    assert proc.stdout.count("Epoch ") <= 1, proc.stdout  # it stops, not trains on
    assert snapshot(folder) == before


def test_an_ignored_hang_up_stays_ignored(earlier, main, monkeypatch):
    """`nohup python sine_wave.py &`: a SIGHUP ignored when the run starts stays ignored."""
    import sine_wave

    folder, _ = earlier
    real_epoch = sine_wave.Output.epoch

    def epoch(self, *args):
        os.kill(os.getpid(), signal.SIGHUP)  # a hang-up at every epoch
        return real_epoch(self, *args)

    monkeypatch.setattr(sine_wave.Output, "epoch", epoch)
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        proc = main("--no-show", "--no-xla", "--epochs", "2", "--out", folder)
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert json.loads((folder / "metrics.json").read_text())["epochs"] == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers given back


def test_a_log_the_terminal_cannot_encode_is_one_line(main, monkeypatch, tmp_path):
    """PYTHONIOENCODING=ascii and an --out in another script: one line, saying the results are
    in."""
    import io

    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="ascii"))
    one_line_error(
        main("--no-show", "--no-xla", "--epochs", "1", "--out", tmp_path / "é"),
        1,
        "cannot write the log to standard output",
        "'ascii' codec can't encode",
        "already written",
    )
    assert (tmp_path / "é" / "metrics.json").exists()
