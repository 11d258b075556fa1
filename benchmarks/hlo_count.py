"""Count what XLA runs per iteration of each while loop in an optimised HLO dump.

    XLA_FLAGS=--xla_dump_to=/tmp/hlo-tf python sine_wave.py --no-show --epochs 2 --out /tmp/x
    XLA_FLAGS=--xla_dump_to=/tmp/hlo-jax python benchmarks/jax_reference.py --epochs 2   # JAX venv
    python benchmarks/hlo_count.py /tmp/hlo-tf/*train_step*after_optimizations.txt
    python benchmarks/hlo_count.py /tmp/hlo-jax/*jit_train_step*after_optimizations.txt

Counts the top-level instructions of the entry computation and of each while body (a fusion
counts once: it is one kernel, whatever it fuses).
"""

import collections
import re
import sys


def computations(text):
    comps, current = {}, None
    for line in text.splitlines():
        header = re.match(r"^(ENTRY )?%?([\w.\-]+) .*\{$", line)
        if header:
            current = ("ENTRY " if header.group(1) else "") + header.group(2)
            comps[current] = []
        elif line.strip() == "}":
            current = None
        elif current and " = " in line:
            op = re.search(r" = .*?\s([a-z][a-z\-]*)\(", line)
            comps[current].append(op.group(1) if op else "?")
    return comps


def main(path):
    text = open(path).read()
    comps = computations(text)
    bodies = [body for _, body in re.findall(r"condition=%?([\w.\-]+), body=%?([\w.\-]+)", text)]
    print(f"{path}: {len(bodies)} while loops")
    for name in [n for n in comps if n.startswith("ENTRY ")] + bodies:
        c = collections.Counter(comps.get(name, []))
        shown = ", ".join(f"{k} {c[k]}" for k in ("fusion", "dot", "copy", "dynamic-update-slice", "dynamic-slice",
                                                     "while", "custom-call") if c[k])
        print(f"  {name[:60]}: {sum(c.values())} instructions ({shown}; "
              f"tuple and get-tuple-element {c['tuple'] + c['get-tuple-element']})")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        main(p)
