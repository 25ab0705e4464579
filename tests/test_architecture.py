"""The layering and size rules of wgtorch/, read from the source (ast), not from behaviour.

- Only ``wgtorch/backend/`` imports wgpu, and it imports nothing else of wgtorch.
- ``nn/``, ``optim/``, ``utils/`` and ``autograd/`` import nothing from ``backend/``: they speak
  tensors and ops, and kernels are launched from ``ops/``.
- Only ``backend/`` and ``ops/kernel.py`` compile or dispatch kernels and pack bytes with
  ``struct`` (a kernel's Params come from its declaration); the checkpoint and wire formats
  are the listed exceptions.
- No file under ``wgtorch/`` passes MAX_LINES lines.
- No public name is defined twice: in one module's (or class's) body, as an attribute of a
  wgtorch class (a class body, ``Class.attr = ...``, ``tensor_method``), or registered on
  Tensor twice at import time.
"""

import ast
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "wgtorch")
MAX_LINES = 550
ABOVE_BACKEND_FREE = ("wgtorch.nn", "wgtorch.optim", "wgtorch.utils", "wgtorch.autograd")
KERNEL_MODULES = ("wgtorch.backend", "wgtorch.ops.kernel")
# file and wire formats (safetensors' header, pickle opcodes, the rendezvous' length-prefixed
# messages) read and written with struct on purpose: they are not kernel parameters
STRUCT_ALLOWED = KERNEL_MODULES + ("wgtorch._safetensors", "wgtorch._weights_only",
                                   "wgtorch.serialization", "wgtorch.distributed.rendezvous")


def _modules():
    """(module name, path, ast) of every Python file under wgtorch/."""
    found = []
    for folder, _, files in os.walk(ROOT):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].split(os.sep)
            if rel[-1] == "__init__":
                rel = rel[:-1]
            with open(path, encoding="utf-8") as f:
                found.append((".".join(rel), path, ast.parse(f.read(), path)))
    return found


MODULES = _modules()


def _within(module, prefixes):
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _imports(module, path, tree):
    """(line, imported module) for every import in the file, relative ones resolved; for
    ``from x import y`` both ``x`` and ``x.y`` (y may be a submodule)."""
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module
            yield node.lineno, source
            for alias in node.names:
                yield node.lineno, f"{source}.{alias.name}"


def _violations(rule):
    found = {}  # (file, line) -> the first message about that import
    for module, path, tree in MODULES:
        for line, imported in _imports(module, path, tree):
            message = rule(module, imported)
            if message:
                found.setdefault((os.path.relpath(path, ROOT), line), message)
    return [f"{where}:{line}: {message}" for (where, line), message in sorted(found.items())]


def _backend_free(module, imported):
    if _within(module, ABOVE_BACKEND_FREE) and _within(imported, ("wgtorch.backend",)):
        return f"{module} imports {imported} (only ops/ talks to the runtime)"
    return None


def _backend_below(module, imported):
    if _within(module, ("wgtorch.backend",)) and _within(imported, ("wgtorch",)) \
            and not _within(imported, ("wgtorch.backend",)):
        return f"{module} imports {imported}, which sits above backend/"
    return None


def _wgpu_in_backend(module, imported):
    if _within(imported, ("wgpu",)) and not _within(module, ("wgtorch.backend",)):
        return f"{module} imports {imported} (only backend/ imports wgpu)"
    return None


def _struct_in_kernels(module, imported):
    if imported == "struct" and not _within(module, STRUCT_ALLOWED):
        return (f"{module} imports struct: declare the kernel's Params in ops/kernel.py "
                "terms instead of packing them by hand")
    return None


@pytest.mark.parametrize("rule", [_backend_free, _backend_below, _wgpu_in_backend,
                                  _struct_in_kernels], ids=lambda r: r.__name__.strip("_"))
def test_import_layering(rule):
    found = _violations(rule)
    assert not found, "\n".join(found)


def test_only_the_kernel_module_compiles_and_dispatches():
    # Runtime.kernel (compile) and Runtime.dispatch are called from ops/kernel.py only
    found = []
    for module, path, tree in MODULES:
        if _within(module, KERNEL_MODULES):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("kernel", "dispatch"):
                found.append(f"{os.path.relpath(path, ROOT)}:{node.lineno}: .{node.func.attr}()")
    assert not found, "\n".join(found)


def test_files_stay_small():
    long = []
    for _, path, _ in MODULES:
        with open(path, encoding="utf-8") as f:
            n = sum(1 for _ in f)
        if n > MAX_LINES:
            long.append(f"{os.path.relpath(path, ROOT)}: {n} lines")
    assert not long, f"split these files (at most {MAX_LINES} lines each):\n" + "\n".join(long)


# ---- names defined twice -----------------------------------------------------------------


def _public(name):
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__")
                                        and name not in ("__all__", "__doc__"))


def _redefines_property(node):
    return any(isinstance(d, ast.Attribute) and d.attr in ("setter", "getter", "deleter")
               for d in node.decorator_list)


def _target_names(target):
    """Names an assignment target binds (``a``, ``a, b``), not ``a.x`` or ``a[k]``."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for t in target.elts for n in _target_names(t)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


def _bound_names(body):
    """(name, line) bound directly by the statements of a module or class body."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if not _redefines_property(node):
                yield node.name, node.lineno
        elif isinstance(node, ast.ClassDef):
            yield node.name, node.lineno
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if isinstance(node, ast.AnnAssign) and node.value is None:
                continue
            for target in targets:
                for name in _target_names(target):
                    yield name, node.lineno
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                if name != "*":
                    yield name, node.lineno


def _duplicates(pairs):
    first, dups = {}, []
    for name, where in pairs:
        if name in first:
            dups.append(f"{name}: {first[name]} and {where}")
        else:
            first[name] = where
    return dups


def test_no_public_name_is_defined_twice_in_a_module():
    dups = []
    for module, path, tree in MODULES:
        rel = os.path.relpath(path, ROOT)
        scopes = [(tree.body, "")] + [(n.body, f"{n.name}.") for n in tree.body
                                      if isinstance(n, ast.ClassDef)]
        for body, prefix in scopes:
            dups += [f"{rel}: {prefix}{d}" for d in _duplicates(
                (name, f"line {line}") for name, line in _bound_names(body) if _public(name))]
    assert not dups, "\n".join(dups)


def _tensor_methods(node):
    """The names a def's ``@tensor_method(...)`` decorators put on Tensor."""
    names = []
    for deco in node.decorator_list:
        if isinstance(deco, ast.Call) and isinstance(deco.func, ast.Name) \
                and deco.func.id == "tensor_method":
            literal = [a.value for a in deco.args if isinstance(a, ast.Constant)]
            names += literal or [node.name]
    return names


def test_no_class_attribute_is_defined_twice():
    homes = {}  # class name -> the modules defining a class of that name
    for module, _, tree in MODULES:
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                homes.setdefault(node.name, []).append(module)
    pairs = []
    for module, path, tree in MODULES:
        rel = os.path.relpath(path, ROOT)
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                pairs += [(f"{module}.{node.name}.{name}", f"{rel}:{line}")
                          for name, line in _bound_names(node.body) if _public(name)]
            elif isinstance(node, ast.Assign):  # Class.attr = ..., the class defined elsewhere
                pairs += [(f"{homes[t.value.id][0]}.{t.value.id}.{t.attr}", f"{rel}:{node.lineno}")
                          for t in node.targets if isinstance(t, ast.Attribute)
                          and isinstance(t.value, ast.Name) and len(homes.get(t.value.id, ())) == 1
                          and _public(t.attr)]
            elif isinstance(node, ast.FunctionDef):
                pairs += [(f"wgtorch.tensor.Tensor.{n}", f"{rel}:{node.lineno}")
                          for n in _tensor_methods(node)]
    dups = _duplicates(pairs)
    assert not dups, "\n".join(dups)


# Run in a fresh interpreter: wrap tensor_method as soon as wgtorch/tensor.py has defined it,
# then record every name each registration puts on Tensor while wgtorch imports.
_RECORD_REGISTRATIONS = r"""
import importlib.machinery, json, sys

registered = {}


class WrapTensorMethod:
    def find_spec(self, name, path, target=None):
        if name != "wgtorch.tensor":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run_module = spec.loader.exec_module

        def exec_module(module):
            run_module(module)
            original = module.tensor_method

            def tensor_method(*names):
                attach = original(*names)

                def record(fn):
                    for n in names or (fn.__name__,):
                        registered.setdefault(n, []).append(fn.__module__ + "." + fn.__qualname__)
                    return attach(fn)
                return record
            module.tensor_method = tensor_method

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, WrapTensorMethod())
import wgtorch  # noqa: E402

print(json.dumps({n: where for n, where in registered.items() if len(where) > 1}))
"""


def test_no_tensor_method_is_registered_twice():
    env = {**os.environ, "PYTHONPATH": os.path.dirname(ROOT)}
    out = subprocess.run([sys.executable, "-c", _RECORD_REGISTRATIONS], capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    twice = json.loads(out.stdout.strip().splitlines()[-1])
    assert not twice, "\n".join(f"Tensor.{n}: {', '.join(w)}" for n, w in twice.items())
