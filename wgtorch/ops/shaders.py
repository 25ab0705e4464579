"""Load WGSL files from ``shaders/`` (shipped inside the wheel as ``wgtorch/shaders``)."""

import functools
import os

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_DIRS = (os.path.join(_HERE, "shaders"), os.path.join(os.path.dirname(_HERE), "shaders"))


@functools.lru_cache(maxsize=None)
def load_shader(name):
    """The text of ``shaders/<name>``."""
    for d in _DIRS:
        path = os.path.join(d, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                return f.read()
    raise FileNotFoundError(f"wgtorch: shader {name!r} not found in {_DIRS}")
