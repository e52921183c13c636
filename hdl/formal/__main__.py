"""``python -m hdl.formal [--depth N] [--prove NAME ...] [--out DIR]``: run the formal checks.

Writes each check's RTLIL and .sby under DIR (default build/formal), runs yowasp-sby and
prints one line per check: PASS/FAIL, name, mode, depth, wall time. Exit 1 if any fails.
"""
from __future__ import annotations

import sys
from pathlib import Path

from contract.cli import Parser, command

from .properties import CHECKS
from .sby import run_check, tools_missing


def parse(argv):
    ap = Parser(prog="python -m hdl.formal", description=__doc__.split("\n")[0])
    ap.add_argument("--depth", type=int, help="override every check's depth")
    ap.add_argument("--prove", metavar="NAME", action="append",
                    help="run only this check (repeatable); names: "
                         + ", ".join(c.name for c in CHECKS))
    ap.add_argument("--out", type=Path, default=Path("build/formal"), help="work folder")
    ap.add_argument("--timeout", type=float, help="seconds per check")
    ap.add_argument("--list", action="store_true", help="list the checks and exit")
    return ap.parse_args(argv)


@command
def main(argv=None) -> int:
    args = parse(argv)
    if args.depth is not None and args.depth < 1:
        raise ValueError(f"--depth must be >= 1, got {args.depth}")
    names = {c.name for c in CHECKS}
    unknown = [n for n in args.prove or [] if n not in names]
    if unknown:
        raise ValueError(f"--prove {unknown[0]}: no such check (one of {', '.join(sorted(names))})")
    checks = [c for c in CHECKS if not args.prove or c.name in args.prove]
    if args.list:
        for c in checks:
            print(f"{c.name:<28} {c.mode:<6} depth {c.depth}")
        return 0
    missing = tools_missing()
    if missing:
        raise ValueError(f"missing {', '.join(missing)} (pip install .[formal])")
    failed = 0
    for c in checks:
        v = run_check(c, args.out, depth=args.depth, timeout=args.timeout)
        print(v.line(), flush=True)
        failed += not v.passed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
