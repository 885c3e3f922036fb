"""`python -m experiments list`: the experiment index."""
from __future__ import annotations

import importlib
import sys

EXPERIMENTS = {
    "architecture_comparison": "four MLP depths/widths on breast cancer (seed's compare_architectures)",
    "activation_comparison": "sigmoid / tanh / relu / leaky_relu on digits (seed's activation comparison)",
    "benchmark": "speed: jaxnets vs the seed's NumPy loop vs PyTorch-CPU (what `make bench` runs)",
}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("list", "-h", "--help"):
        print("experiments (run with `python -m experiments.<name> [--preset seed|default] [--quick]`):")
        for name, what in EXPERIMENTS.items():
            print(f"  {name:<26} {what}")
        return 0
    name = argv[0]
    if name not in EXPERIMENTS:
        print(f"unknown experiment {name!r}; valid: {', '.join(EXPERIMENTS)}", file=sys.stderr)
        return 2
    importlib.import_module(f"experiments.{name}").run(argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
