"""Grad mode: no_grad, enable_grad, set_grad_enabled, inference_mode.

Each works as a context manager and as a decorator, as in PyTorch.
"""

import functools

_state = {"enabled": True, "inference": False}


def is_grad_enabled():
    return _state["enabled"]


def is_inference_mode_enabled():
    return _state["inference"]


class _GradMode:
    """Base for the grad-mode context managers; subclasses set ``mode``."""

    mode = True
    inference = None

    def __enter__(self):
        self.prev = dict(_state)
        _state["enabled"] = self.mode
        if self.inference is not None:
            _state["inference"] = self.inference

    def __exit__(self, *exc):
        _state.update(self.prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args()):
                return fn(*args, **kwargs)

        return wrapper

    def _args(self):
        return ()


class no_grad(_GradMode):
    """Disable gradient recording: ``with wgtorch.no_grad(): ...`` or ``@wgtorch.no_grad()``."""

    mode = False


class enable_grad(_GradMode):
    """Enable gradient recording inside a no_grad block."""

    mode = True


class set_grad_enabled(_GradMode):
    """Set gradient recording on or off; takes effect at once and as a context manager."""

    def __init__(self, mode):
        self.prev = dict(_state)
        self.mode = bool(mode)
        _state["enabled"] = self.mode

    def __enter__(self):
        pass

    def __call__(self, fn):
        _state.update(self.prev)  # as a decorator it must not change the mode now
        return super().__call__(fn)

    def _args(self):
        return (self.mode,)


class inference_mode(_GradMode):
    """Like no_grad; tensors made inside are marked as inference tensors."""

    def __init__(self, mode=True):
        self.mode = not mode
        self.inference = bool(mode)

    def _args(self):
        return (self.inference,)
