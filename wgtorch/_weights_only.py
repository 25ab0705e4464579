"""The ``weights_only`` unpickler: what ``load(weights_only=True)`` may build, and nothing else.

A port of PyTorch's ``torch/_weights_only_unpickler.py`` (2.13) onto wgtorch's objects. It
runs the same protocol-2 opcodes with the same rules, so a file loads here exactly when it
loads in PyTorch with ``weights_only=True``:

- GLOBAL resolves only names in ``allowed_globals()`` (PyTorch's defaults, as wgtorch's
  objects, then whatever ``add_safe_globals`` added); the modules sys/os/posix/nt never.
- REDUCE calls only those objects; NEWOBJ builds only ``Parameter`` and allowed classes.
- BUILD sets state only on an ``OrderedDict`` (its ``__dict__``: ``state_dict._metadata``),
  a ``Counter``, a Tensor or Parameter (the legacy ``(requires_grad, _, hooks)`` state) and
  instances of user-allowed classes. Never on a class, a dtype, a device, a ``Size`` or any
  other global: PyTorch refuses those too (its C types have no ``__dict__``), and here they
  are Python objects that every later op reads.
- APPEND(S) only on lists, SETITEM(S) only on dict/OrderedDict/Counter, persistent ids only
  ``("storage", ...)``.

Where wgtorch differs, on purpose: ``torch.Tensor(...)`` and ``bytearray(n)`` called by the
file are refused (they would allocate memory the file does not hold), and a ``Size`` must
hold ints. Refusals raise ``WeightsOnlyError`` (a ``pickle.UnpicklingError``); a file that
is merely damaged fails with whatever the damage causes, which ``serialization.load`` turns
into an error naming the file.
"""

import _compat_pickle
import pickle
import struct
import sys
import warnings
from collections import Counter, OrderedDict

from . import _torch_pickle as tp
from .tensor import Tensor

# Modules never allowed, even when the user allowlists something from them (as PyTorch).
BLOCKED_MODULES = ("sys", "os", "posix", "nt")
STOP = pickle.STOP[0]


class WeightsOnlyError(pickle.UnpicklingError):
    """The file asks for something a ``weights_only`` load does not allow."""


# ---- the allow-list ------------------------------------------------------------------------

_user_entries = []  # what add_safe_globals was given, in order: objects or (object, "mod.name")


def add_safe_globals(safe_globals):
    """Allow these functions/classes in ``weights_only`` loads, as
    ``torch.serialization.add_safe_globals`` does. An entry is the object itself (found by its
    ``__module__`` and ``__qualname__``) or ``(obj, "module.name")`` for a name that differs.

    Example::

        wgtorch.serialization.add_safe_globals([MyConfig])
        ckpt = wgtorch.load("ckpt.pt")       # may now contain MyConfig objects
    """
    for entry in safe_globals:
        if entry not in _user_entries:
            _user_entries.append(entry)


def get_safe_globals():
    """The entries given to ``add_safe_globals`` (and not cleared)."""
    return list(_user_entries)


def clear_safe_globals():
    """Forget every entry added with ``add_safe_globals``."""
    _user_entries.clear()


def _remove_safe_globals(safe_globals):
    """Forget these entries (what a ``safe_globals`` context manager does on exit)."""
    for entry in safe_globals:
        if entry in _user_entries:
            _user_entries.remove(entry)


def user_allowed_globals():
    """``"module.name" -> object`` for the user's entries, validated as PyTorch does."""
    found = {}
    for entry in _user_entries:
        if isinstance(entry, tuple):
            if len(entry) != 2:
                raise ValueError("Expected tuple of length 2 (global, str of callable full "
                                 f"path), but got tuple of length: {len(entry)}")
            if type(entry[1]) is not str:
                raise TypeError("Expected second item in tuple to be str of callable full "
                                f"path, but got: {type(entry[1])}")
            found[entry[1]] = entry[0]
        else:
            found[f"{entry.__module__}.{entry.__qualname__}"] = entry
    return found


def allowed_globals():
    """``"module.name" -> object`` for every global a ``weights_only`` load may name: PyTorch's
    defaults (mapped to wgtorch's objects) first, then the user's. The one place the
    allow-list is looked up, so extending it means extending this function."""
    return {**tp.weights_only_globals(), **user_allowed_globals()}


def _wgtorch_twin(module, name, user_values):
    """wgtorch's object for PyTorch's ``module.name`` when the user allowed that object: an
    allow-list of ``wgtorch.nn.Linear`` lets a file name ``torch.nn.modules.linear.Linear``."""
    if not user_values or not (module == "torch" or module.startswith("torch.")):
        return None
    try:
        twin = tp._wgtorch_global(module, name)
    except pickle.UnpicklingError:
        return None
    return twin if _is_in(twin, user_values) else None


def _is_in(obj, values):
    # NOTE: identity, not ==: the object comes from the file and may define __eq__
    return any(obj is v for v in values)


def _unsupported_global(full_path):
    if full_path in tp.KNOWN_UNSUPPORTED:
        return WeightsOnlyError(f"{full_path} is allowed by PyTorch's weights_only loader but "
                                "wgtorch has no equivalent of it")
    return WeightsOnlyError(
        f"Unsupported global: GLOBAL {full_path} was not an allowed global by default. Please "
        f"use `wgtorch.serialization.add_safe_globals([{full_path.split('.')[-1]}])` to "
        "allowlist this global if you trust this class/function."
    )


# ---- the unpickler -------------------------------------------------------------------------

_OPS = {}


def _op(code):
    def register(method):
        _OPS[code[0]] = method
        return method

    return register


class Unpickler:
    """Restricted unpickler for one ``data.pkl``; ``persistent_load`` fetches storages."""

    def __init__(self, file, persistent_load, *, encoding="utf-8"):
        self.read, self.readline = file.read, file.readline
        self.persistent_load = persistent_load
        self.encoding = encoding
        self.memo = {}
        self.proto = -1

    def load(self):
        """The object the pickle describes (or WeightsOnlyError / a damage error)."""
        self.metastack, self.stack = [], []
        self.globals = allowed_globals()
        self.values = list(self.globals.values())
        self.user_values = list(user_allowed_globals().values())
        read, ops = self.read, _OPS
        while True:
            key = read(1)
            if not key:
                raise EOFError("data.pkl ended before its STOP opcode")
            if key[0] == STOP:
                return self.stack.pop()
            op = ops.get(key[0])
            if op is None:
                raise WeightsOnlyError(f"Unsupported operand {key[0]}")
            op(self)

    def pop_mark(self):
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    # -- risky operators

    @_op(pickle.GLOBAL)
    def global_(self):
        module = self.readline()[:-1].decode("utf-8")
        name = self.readline()[:-1].decode("utf-8")
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        else:
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        full_path = f"{module}.{name}"
        if module in BLOCKED_MODULES:
            raise WeightsOnlyError(f"Trying to load unsupported GLOBAL {full_path} whose module "
                                   f"{module} is blocked.")
        found = self.globals.get(full_path)
        if found is None:
            found = _wgtorch_twin(module, name, self.user_values)
        if found is None:
            raise _unsupported_global(full_path)
        self.stack.append(found)

    @_op(pickle.NEWOBJ)
    def newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        if cls is tp.parameter_class():
            self.stack.append(cls(*args))
        elif isinstance(cls, type) and _is_in(cls, self.values) and cls not in tp.NO_NEWOBJ:
            self.stack.append(cls.__new__(cls, *args))
        else:
            raise WeightsOnlyError("Can only create new object for nn.Parameter or classes "
                                   f"allowlisted via `add_safe_globals` but got {cls}")

    @_op(pickle.REDUCE)
    def reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        if not _is_in(func, self.values):
            raise WeightsOnlyError(f"Trying to call reduce for unrecognized function {func}")
        if func is Tensor:
            raise WeightsOnlyError("the file calls torch.Tensor(...), which allocates memory the "
                                   "file does not hold; wgtorch refuses it")
        self.stack[-1] = func(*args)

    @_op(pickle.BUILD)
    def build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        kind = type(inst)
        if kind is Tensor or kind is tp.parameter_class():
            tp.set_legacy_tensor_state(inst, state)
        elif kind is OrderedDict or kind is Counter:
            inst.__dict__.update(state)
        elif _is_in(kind, self.user_values):
            _build_user_object(inst, state)
        else:
            raise WeightsOnlyError("Can only build Tensor, Parameter, OrderedDict or types "
                                   f"allowlisted via `add_safe_globals`, but got {kind}")

    @_op(pickle.BINPERSID)
    def binpersid(self):
        pid = self.stack.pop()
        if type(pid) is not tuple and type(pid) is not int:
            raise WeightsOnlyError(f"persistent_load id must be tuple or int, but got {type(pid)}")
        if type(pid) is tuple and pid and _ascii(pid[0]) != "storage":
            raise WeightsOnlyError("Only persistent_load of storage is allowed, but got "
                                   f"{type(pid[0])}")
        self.stack.append(self.persistent_load(pid))

    # -- containers

    @_op(pickle.APPEND)
    def append(self):
        item = self.stack.pop()
        target = self.stack[-1]
        if type(target) is not list:
            raise WeightsOnlyError(f"Can only append to lists, but got {type(target)}")
        target.append(item)

    @_op(pickle.APPENDS)
    def appends(self):
        items = self.pop_mark()
        target = self.stack[-1]
        if type(target) is not list:
            raise WeightsOnlyError(f"Can only extend lists, but got {type(target)}")
        target.extend(items)

    def _dict_target(self, opcode):
        target = self.stack[-1]
        if type(target) not in (dict, OrderedDict, Counter):
            raise WeightsOnlyError(f"Can only {opcode} for dict, collections.OrderedDict, "
                                   f"collections.Counter, but got {type(target)}")
        return target

    @_op(pickle.SETITEM)
    def setitem(self):
        value, key = self.stack.pop(), self.stack.pop()
        self._dict_target("SETITEM")[key] = value

    @_op(pickle.SETITEMS)
    def setitems(self):
        items = self.pop_mark()
        target = self._dict_target("SETITEMS")
        if len(items) % 2:
            raise pickle.UnpicklingError("SETITEMS with an odd number of items")
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]

    @_op(pickle.MARK)
    def mark(self):
        self.metastack.append(self.stack)
        self.stack = []

    @_op(pickle.TUPLE)
    def tuple_(self):
        items = self.pop_mark()  # NOTE: before naming self.stack, which pop_mark replaces
        self.stack.append(tuple(items))

    @_op(pickle.TUPLE1)
    def tuple1(self):
        self.stack[-1] = (self.stack[-1],)

    @_op(pickle.TUPLE2)
    def tuple2(self):
        self.stack[-2:] = [(self.stack[-2], self.stack[-1])]

    @_op(pickle.TUPLE3)
    def tuple3(self):
        self.stack[-3:] = [(self.stack[-3], self.stack[-2], self.stack[-1])]

    # -- constants

    @_op(pickle.NONE)
    def none(self):
        self.stack.append(None)

    @_op(pickle.NEWFALSE)
    def false(self):
        self.stack.append(False)

    @_op(pickle.NEWTRUE)
    def true(self):
        self.stack.append(True)

    @_op(pickle.EMPTY_TUPLE)
    def empty_tuple(self):
        self.stack.append(())

    @_op(pickle.EMPTY_LIST)
    def empty_list(self):
        self.stack.append([])

    @_op(pickle.EMPTY_DICT)
    def empty_dict(self):
        self.stack.append({})

    @_op(pickle.EMPTY_SET)
    def empty_set(self):
        self.stack.append(set())

    @_op(pickle.BININT)
    def binint(self):
        self.stack.append(struct.unpack("<i", self.read(4))[0])

    @_op(pickle.BININT1)
    def binint1(self):
        self.stack.append(self.read(1)[0])  # NOTE: at the end of the file: an IndexError

    @_op(pickle.BININT2)
    def binint2(self):
        self.stack.append(struct.unpack("<H", self.read(2))[0])

    @_op(pickle.BINFLOAT)
    def binfloat(self):
        self.stack.append(struct.unpack(">d", self.read(8))[0])

    @_op(pickle.LONG1)
    def long1(self):
        n = self._bytes(1)[0]
        self.stack.append(pickle.decode_long(self._bytes(n)))

    @_op(pickle.BINUNICODE)
    def binunicode(self):
        (n,) = struct.unpack("<I", self.read(4))
        if n > sys.maxsize:
            raise WeightsOnlyError("String is too long")
        self.stack.append(str(self._bytes(n), "utf-8", "surrogatepass"))

    @_op(pickle.SHORT_BINSTRING)
    def short_binstring(self):
        data = self._bytes(self._bytes(1)[0])
        self.stack.append(data if self.encoding == "bytes" else data.decode(self.encoding))

    # -- memo

    @_op(pickle.BINGET)
    def binget(self):
        self.stack.append(self.memo[self.read(1)[0]])

    @_op(pickle.LONG_BINGET)
    def long_binget(self):
        self.stack.append(self.memo[struct.unpack("<I", self.read(4))[0]])

    @_op(pickle.BINPUT)
    def binput(self):
        self.memo[self.read(1)[0]] = self.stack[-1]

    @_op(pickle.LONG_BINPUT)
    def long_binput(self):
        self.memo[struct.unpack("<I", self.read(4))[0]] = self.stack[-1]

    # -- first and last

    @_op(pickle.PROTO)
    def proto_(self):
        self.proto = self._bytes(1)[0]
        if self.proto != 2:
            warnings.warn(f"Detected pickle protocol {self.proto} in the checkpoint, which was "
                          "not the default pickle protocol used by `torch.load` (2). The "
                          "weights_only Unpickler might not support all instructions "
                          "implemented by this protocol.", stacklevel=2)

    def _bytes(self, n):
        data = self.read(n)
        if len(data) < n:
            raise EOFError("data.pkl ended inside an opcode")
        return data


def _ascii(value):
    return value.decode("ascii") if isinstance(value, bytes) else value


def _build_user_object(inst, state):
    """BUILD on an instance of a class the user allowlisted: what pickle's load_build does."""
    setstate = getattr(type(inst), "__setstate__", None)
    if setstate is not None:
        setstate(inst, state)
        return
    slotstate = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slotstate = state
    if state:
        inst.__dict__.update(state)
    for k, v in (slotstate or {}).items():
        setattr(inst, k, v)


def load(file, persistent_load, *, encoding="utf-8"):
    """Unpickle ``file`` (a binary file object) under the weights_only rules."""
    return Unpickler(file, persistent_load, encoding=encoding).load()
