"""Every op, declared once: kernel launch and backward rule side by side."""

from . import copy, creation, reduce, views  # noqa: F401
from . import activation, elementwise, elementwise_args, operators, table  # noqa: F401
from . import contractions, linalg  # noqa: F401
from . import scan, softmax, sort, stats  # noqa: F401
from . import diagonals, indexing, masked, padding, scatter, shape  # noqa: F401
