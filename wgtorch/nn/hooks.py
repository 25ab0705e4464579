"""Forward hooks and pre-hooks for nn.Module (per module and global)."""

import itertools
from collections import OrderedDict

from ..tensor import RemovableHandle

_global_forward_hooks = OrderedDict()
_global_forward_pre_hooks = OrderedDict()
_hook_ids = itertools.count()


class _HookHandle(RemovableHandle):
    """``handle.remove()`` unregisters a module hook."""

    def __init__(self, hooks_dict, key, extra_dicts=()):
        self.hooks_dict, self.key, self.extra_dicts = hooks_dict, key, extra_dicts
        self.id = key

    def remove(self):
        for d in (self.hooks_dict, *self.extra_dicts):
            d.pop(self.key, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class HooksMixin:
    """Module's hook registration and ``__call__`` (mixed into ``nn.Module``)."""

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args)`` runs before ``forward``; it may return new args."""
        key = next(_hook_ids)
        self._forward_pre_hooks[key] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[key] = True
        if prepend:
            self._forward_pre_hooks.move_to_end(key, last=False)
        return _HookHandle(self._forward_pre_hooks, key, (self._forward_pre_hooks_with_kwargs,))

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """``hook(module, args, output)`` runs after ``forward``; it may return a new output."""
        key = next(_hook_ids)
        self._forward_hooks[key] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs[key] = True
        if always_call:
            self._forward_hooks_always_called[key] = True
        if prepend:
            self._forward_hooks.move_to_end(key, last=False)
        return _HookHandle(self._forward_hooks, key, (self._forward_hooks_with_kwargs,
                                                      self._forward_hooks_always_called))

    def _call_impl(self, *args, **kwargs):
        if not (self._forward_hooks or self._forward_pre_hooks or _global_forward_hooks
                or _global_forward_pre_hooks):
            return self.forward(*args, **kwargs)
        for key, hook in itertools.chain(_global_forward_pre_hooks.items(),
                                         self._forward_pre_hooks.items()):
            if key in self._forward_pre_hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            "forward pre-hook must return None or a tuple of (new_args, "
                            f"new_kwargs), but got {result}."
                        )
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        called = set()
        try:
            output = self.forward(*args, **kwargs)
            for key, hook in itertools.chain(_global_forward_hooks.items(),
                                             self._forward_hooks.items()):
                called.add(key)
                if key in self._forward_hooks_with_kwargs:
                    result = hook(self, args, kwargs, output)
                else:
                    result = hook(self, args, output)
                if result is not None:
                    output = result
        except Exception:
            for key, hook in self._forward_hooks.items():
                if key in self._forward_hooks_always_called and key not in called:
                    try:
                        hook(self, args, None)
                    except Exception:  # noqa: BLE001 - the original error matters more
                        pass
            raise
        return output

    __call__ = _call_impl


def register_module_forward_hook(hook):
    """A forward hook called for every module (PyTorch's global hook)."""
    key = next(_hook_ids)
    _global_forward_hooks[key] = hook
    return _HookHandle(_global_forward_hooks, key)


def register_module_forward_pre_hook(hook):
    key = next(_hook_ids)
    _global_forward_pre_hooks[key] = hook
    return _HookHandle(_global_forward_pre_hooks, key)
