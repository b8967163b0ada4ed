"""Benchmark: time to compile the whole rule pack to every target.

    python bench/compile.py

Prints the wall time per target and in total (target: < 5 s for all targets).
"""

from __future__ import annotations

import time

from llmsiem.compiler.compile import compile_pack
from llmsiem.compiler.targets import TARGETS
from llmsiem.rulepack import RulePack


def main() -> None:
    rules = len(RulePack.load().files)
    total = 0.0
    for target in TARGETS:
        start = time.perf_counter()
        result = compile_pack(target)
        elapsed = time.perf_counter() - start
        total += elapsed
        print(
            f"{target:22} {elapsed:6.2f}s  {len(result.compiled):3} compiled, "
            f"{len(result.issues) - len(result.failed):2} skipped, {len(result.failed)} failed"
        )
    print(f"{'all targets':22} {total:6.2f}s  for {rules} rules (target < 5 s)")


if __name__ == "__main__":
    main()
