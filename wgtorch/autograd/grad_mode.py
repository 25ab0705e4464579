"""Grad mode: no_grad, enable_grad, set_grad_enabled, inference_mode.

Each works as a context manager and as a decorator (with or without parentheses, on plain
and generator functions), and they nest, as in PyTorch. The state is per thread, as in
PyTorch: a DataLoader thread entering ``no_grad`` does not switch off recording for the
training loop.
"""

import functools
import inspect
import threading


class _GradState(threading.local):
    enabled = True  # record the graph
    inference = False  # inside inference_mode: new tensors are inference tensors


grad_state = _GradState()


def is_grad_enabled():
    """True when operations are being recorded for autograd."""
    return grad_state.enabled


def is_inference_mode_enabled():
    """True inside ``inference_mode()``."""
    return grad_state.inference


class _GradMode:
    """Base of the grad-mode context managers: sets ``(enabled, inference)`` and restores it."""

    def _target(self):
        """The ``(enabled, inference)`` state inside the block."""
        raise NotImplementedError

    def clone(self):
        return self.__class__()

    def __enter__(self):
        self.prev = (grad_state.enabled, grad_state.inference)
        grad_state.enabled, grad_state.inference = self._target()

    def __exit__(self, *exc):
        grad_state.enabled, grad_state.inference = self.prev
        return False

    def __call__(self, fn):
        """Decorate ``fn`` so that it runs in this mode (each step, for a generator)."""
        if inspect.isgeneratorfunction(fn):
            return self._wrap_generator(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)

        return wrapper

    def _wrap_generator(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            gen = fn(*args, **kwargs)
            try:
                with self.clone():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self.clone():
                            gen.close()
                        raise
                    except BaseException as exc:  # noqa: BLE001 -- forwarded to the generator
                        with self.clone():
                            response = gen.throw(exc)
                    else:
                        with self.clone():
                            response = gen.send(request)
            except StopIteration as stop:
                return stop.value

        return wrapper


def _bare_decorator(cls, orig_func):
    """``@no_grad`` without parentheses: PyTorch allows it for the no-argument managers."""
    return cls()(orig_func)


class _NoArgGradMode(_GradMode):
    """no_grad and enable_grad: no arguments, usable with or without parentheses."""

    def __new__(cls, orig_func=None):
        if orig_func is not None:
            return _bare_decorator(cls, orig_func)
        return super().__new__(cls)

    def __init__(self, orig_func=None):
        pass


class no_grad(_NoArgGradMode):
    """Disable gradient recording.

    Example::

        with wgtorch.no_grad():
            y = x * 2          # y.requires_grad is False

        @wgtorch.no_grad()
        def evaluate(model, x): ...
    """

    def _target(self):
        return False, grad_state.inference


class enable_grad(_NoArgGradMode):
    """Enable gradient recording (inside a ``no_grad`` block, for instance)."""

    def _target(self):
        return True, grad_state.inference


class set_grad_enabled(_GradMode):
    """Turn gradient recording on or off.

    Takes effect at once when called (``wgtorch.set_grad_enabled(False)``), and restores the
    previous mode at the end of a ``with`` block; as a decorator it changes nothing until the
    function runs.
    """

    def __init__(self, mode):
        self.mode = bool(mode)
        self.prev = (grad_state.enabled, grad_state.inference)
        grad_state.enabled = self.mode

    def __enter__(self):
        pass  # the mode was set by __init__; __exit__ restores self.prev

    def __call__(self, fn):
        grad_state.enabled, grad_state.inference = self.prev
        return super().__call__(fn)

    def clone(self):
        return self.__class__(self.mode)

    def __repr__(self):
        return f"wgtorch.autograd.grad_mode.set_grad_enabled(mode={self.mode})"


class inference_mode(_GradMode):
    """Like ``no_grad``, and tensors created inside are inference tensors
    (``t.is_inference()``): they cannot be saved for backward later.

    ``inference_mode(False)`` switches recording on and inference mode off, as in PyTorch.
    Usable with or without parentheses as a decorator.
    """

    def __new__(cls, mode=True):
        if not isinstance(mode, bool):  # used as a bare decorator: mode is the function
            return _bare_decorator(cls, mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        self.mode = mode

    def clone(self):
        return self.__class__(self.mode)

    def _target(self):
        return not self.mode, self.mode
