"""Is the post's result typical? The training under many seeds and both learning-rate schedules.

    python experiments/seeds.py               # 20 seeds x 2 schedules, into output/
    python experiments/seeds.py --out docs    # the same, into the files the README shows
    python experiments/seeds.py --seeds 1 2 3 --epochs 50 --out /tmp/study

Writes OUT/seeds.csv (one row per seed and schedule), OUT/seeds.md (the same, then a summary) and
OUT/seeds.png. Run again on the same machine and build, it writes the same bytes.

Each row is one run of the command line
    python sine_wave.py --no-show --seed S --lr-schedule X --epochs E
made in this process by `sine_wave.main`, into a scratch folder: the row is what that run wrote to
metrics.json, to the last digit (tests/test_seeds.py checks it). So the learning rate of every
epoch is the story's own chain, not a copy of it. Each run compiles its own step and draws its
figures, as the command line does: slower than reusing one step, but nothing here can drift.
"""

import argparse
import contextlib
import csv
import io
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sine_wave as sw  # noqa: E402

SEEDS = [sw.seed, *range(1, 20)]  # the script's default seed, then 19 others
SCHEDULES = sw.SCHEDULES  # ("as-written", "stepped")


def study(seeds, epochs, no_xla=False, progress=print):
    """Yield one row (a dict) per seed and schedule: what the command line wrote to metrics.json."""
    with tempfile.TemporaryDirectory(prefix="seeds-") as scratch:
        for n, seed in enumerate(seeds, 1):
            started = time.perf_counter()
            for schedule in SCHEDULES:
                argv = ["--no-show", "--seed", seed, "--lr-schedule", schedule, "--epochs", epochs]
                argv += ["--out", scratch] + (["--no-xla"] if no_xla else [])
                with contextlib.redirect_stdout(io.StringIO()):  # its log: one line an epoch
                    status = sw.main([str(word) for word in argv])
                if status:  # sine_wave.py has said why, in one line
                    raise SystemExit(status)
                metrics = json.loads(Path(scratch, "metrics.json").read_text())
                yield {
                    "seed": seed,
                    "lr_schedule": schedule,
                    "train_error": metrics["train_error"],
                    "final_train_error": metrics["final_train_error"],
                    "test_rmse_lstm": metrics["test_rmse"]["lstm"],
                    "test_rmse_linear": metrics["test_rmse"]["linear"],
                    "test_rmse_last_value": metrics["test_rmse"]["last_value"],
                    "test_positions": metrics["test_positions"],
                }
            progress(
                f"seed {seed} ({n} of {len(seeds)}) done in {time.perf_counter() - started:.1f} s"
            )


def by_seed(rows):
    """{seed: {schedule: row}}, the seeds in the order they ran."""
    pairs = {}
    for r in rows:
        pairs.setdefault(r["seed"], {})[r["lr_schedule"]] = r
    return pairs


def summary(rows, default_seed):
    """Per schedule: (median, min, max) of the last error and the test RMSE, the default seed's
    rank on each, and how many seeds beat the linear baseline; then how often `as-written` helped.
    """
    linear = rows[0]["test_rmse_linear"]  # the same for every seed
    stats = {}
    for schedule in SCHEDULES:
        mine = [r for r in rows if r["lr_schedule"] == schedule]
        entry = {"n": len(mine), "beats_linear": sum(r["test_rmse_lstm"] < linear for r in mine)}
        for key in ("train_error", "test_rmse_lstm"):
            values = sorted(r[key] for r in mine)
            entry[key] = (statistics.median(values), values[0], values[-1])
            default = [r[key] for r in mine if r["seed"] == default_seed]
            entry[key + "_rank"] = values.index(default[0]) + 1 if default else "-"
        stats[schedule] = entry
    pairs = [p for p in by_seed(rows).values() if len(p) == 2]
    helped = sum(p["as-written"]["test_rmse_lstm"] < p["stepped"]["test_rmse_lstm"] for p in pairs)
    return stats, helped, len(pairs)


def made_by(args):
    """The command that makes these files, without --out: the same text every time."""
    words = ["python", "experiments/seeds.py"]
    if args.seeds != SEEDS:
        words += ["--seeds", *map(str, args.seeds)]
    if args.epochs != sw.epochs:
        words += ["--epochs", str(args.epochs)]
    if args.no_xla:
        words += ["--no-xla"]
    versions = f"TensorFlow {sw.tf.__version__}, NumPy {np.__version__}"
    machine = f"{platform.system()} {platform.machine()}"
    return (
        f"Made by `{' '.join(words)}` (`--out docs` writes these files into docs/), "
        f"with {versions} on {machine}."
    )


def write_markdown(path, rows, default_seed, epochs, made_by):
    stats, helped, pairs = summary(rows, default_seed)
    first = rows[0]
    seeds = by_seed(rows)
    lines = [
        f"# The seed study: {len(seeds)} seeds x 2 schedules, {epochs} epochs each",
        "",
        made_by,
        "",
        f"Test RMSE over the {first['test_positions']} test positions with a real target. For every"
        f" seed the linear baseline's is {first['test_rmse_linear']:.3f}, and the last value's"
        f" {first['test_rmse_last_value']:.3f}.",
        "",
        "| seed | as-written: last error | as-written: test RMSE "
        "| stepped: last error | stepped: test RMSE |",
        "|---|---:|---:|---:|---:|",
    ]
    for seed, pair in seeds.items():
        mark = " (default)" if seed == default_seed else ""
        cells = [
            f"{pair[s][key]:.3f}" if s in pair else ""
            for s in SCHEDULES
            for key in ("train_error", "test_rmse_lstm")
        ]
        lines.append(f"| {seed}{mark} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Summary",
        "",
        "| schedule | last error: median (min to max) | test RMSE: median (min to max) "
        "| default seed's rank (1 = best), error / RMSE | beats the linear baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in SCHEDULES:
        st = stats[s]
        e, r = st["train_error"], st["test_rmse_lstm"]
        lines.append(
            f"| {s} | {e[0]:.2f} ({e[1]:.2f} to {e[2]:.2f}) "
            f"| {r[0]:.3f} ({r[1]:.3f} to {r[2]:.3f}) "
            f"| {st['train_error_rank']} / {st['test_rmse_lstm_rank']} of {st['n']} "
            f"| {st['beats_linear']} of {st['n']} |"
        )
    lines += [
        "",
        "The post's schedule as written (`as-written`) gives a lower test RMSE than the intended "
        f"`stepped` one for {helped} of {pairs} seeds.",
        "",
    ]
    Path(path).write_text("\n".join(lines))
    return lines


def plot(path, rows, default_seed):
    from matplotlib.figure import Figure
    from matplotlib.ticker import FormatStrFormatter

    fig = Figure(figsize=(10, 4.5), layout="constrained")
    axes = fig.subplots(1, 2)
    seeds = by_seed(rows)
    rmse_title = f"test RMSE ({rows[0]['test_positions']} positions)"
    for ax, key, title in (
        (axes[0], "train_error", "last logged training error"),
        (axes[1], "test_rmse_lstm", rmse_title),
    ):
        for seed, pair in seeds.items():
            if len(pair) < 2:
                continue
            default = seed == default_seed
            ax.plot(
                [0, 1],
                [pair[s][key] for s in SCHEDULES],
                "o-",
                color="tab:red" if default else "0.55",
                alpha=1.0 if default else 0.6,
                linewidth=2 if default else 1,
                zorder=3 if default else 2,
                label=f"seed {seed} (the default)" if default else None,
            )
        if key == "test_rmse_lstm":
            linear = rows[0]["test_rmse_linear"]
            ax.axhline(linear, color="tab:blue", linestyle="--", label="linear baseline")
        ax.set(xticks=[0, 1], xticklabels=SCHEDULES, xlim=(-0.3, 1.3), title=title, yscale="log")
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", frameon=False)
    fig.suptitle(
        f"{len(seeds)} seeds, each trained under both learning-rate schedules (a line each)"
    )
    fig.savefig(path, dpi=100)  # PNG metadata: Matplotlib's version only, no date


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = p.add_argument
    add("--seeds", type=int, nargs="+", default=SEEDS, help="seeds to train (the script's, 1-19)")
    add("--epochs", type=int, default=sw.epochs, help="epochs per run (%(default)s)")
    add("--out", type=Path, default=Path("output"), help="folder for seeds.csv, .md, .png (output)")
    add("--no-xla", action="store_true", help="each run with sine_wave.py --no-xla")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def say(line):  # progress, on stderr: timings never go into the files
        print(line, file=sys.stderr, flush=True)

    rows = list(study(args.seeds, args.epochs, args.no_xla, progress=say))
    with open(args.out / "seeds.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)  # each float as Python writes it: it reads back exactly
    lines = write_markdown(args.out / "seeds.md", rows, sw.seed, args.epochs, made_by(args))
    plot(args.out / "seeds.png", rows, sw.seed)
    print("\n".join(lines))
    took = time.perf_counter() - started
    say(f"{len(rows)} runs in {took:.1f} s; wrote {args.out}/seeds.csv, seeds.md, seeds.png")


if __name__ == "__main__":
    main()
