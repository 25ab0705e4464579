#!/usr/bin/env python3
"""Shader micro-benchmarks on the chosen adapter: see ``python tools/bench.py --help``.

Same as ``python -m wgtorch.bench``; kept here so the tools live together.
"""

import sys

from wgtorch.bench import main

if __name__ == "__main__":
    sys.exit(main())
