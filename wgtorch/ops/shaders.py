"""Load WGSL files from ``shaders/`` (shipped inside the wheel as ``wgtorch/shaders``).

WGSL has no ``#include``, so ``load_shader`` adds the one we need: a line
``//!include other.wgsl`` is replaced by the text of ``shaders/other.wgsl`` (itself expanded).
A struct or helper shared by several kernels lives once in such a file (e.g.
``matmul_common.wgsl``); WGSL resolves module-scope names in any order, so the shared helpers
may use bindings (``P``...) that each including file declares.
"""

import functools
import os

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_DIRS = (os.path.join(_HERE, "shaders"), os.path.join(os.path.dirname(_HERE), "shaders"))
_INCLUDE = "//!include "


@functools.lru_cache(maxsize=None)
def load_shader(name):
    """The text of ``shaders/<name>``, its ``//!include`` lines expanded."""
    for d in _DIRS:
        path = os.path.join(d, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines(keepends=True)
            return "".join(load_shader(line[len(_INCLUDE):].strip())
                           if line.startswith(_INCLUDE) else line for line in lines)
    raise FileNotFoundError(f"wgtorch: shader {name!r} not found in {_DIRS}")
