"""What the merge-field check costs on a body of repeated unclosed `{{` (issue 13, item 10).

Usage (from the project root):
    python bench/merge_check.py [--repeats N] [--baseline-repeats N] [--sizes KB,…]

Times outreach.merge.template_tags (today's linear scan) and, in the same run, the check it
replaced (the lazy regex `\\{\\{.*?\\}\\}|\\{%.*?%\\}` over the whole text) on 20, 80 and 160 KB
of `{{`. Prints the median of --repeats timings for each (the baseline is slow, quadratic:
its default is one run per size).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from outreach.merge import template_tags  # noqa: E402

BEFORE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
SIZES_KB = (20, 80, 160)


def median_seconds(check, text: str, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        check(text)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--baseline-repeats", type=int, default=1, help="0: skip the baseline")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES_KB)), help="in KB")
    args = parser.parse_args()
    print("size | before (regex) | after (linear scan)")
    for kb in map(int, args.sizes.split(",")):
        text = "{{" * (kb * 1000 // 2)
        after = median_seconds(template_tags, text, args.repeats)
        if not args.baseline_repeats:
            print(f"{kb} KB | not run | {after * 1000:.2f} ms", flush=True)
            continue
        before = median_seconds(BEFORE.findall, text, args.baseline_repeats)
        print(f"{kb} KB | {before:.2f} s | {after * 1000:.2f} ms", flush=True)


if __name__ == "__main__":
    main()
