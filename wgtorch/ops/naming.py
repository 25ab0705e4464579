"""Real names for generated ops, so tracebacks, profilers and ``help()`` name the op."""


def named(fn, name, module, qualname=None, doc=None):
    """``fn`` (a function made by a factory) named ``name`` everywhere: ``__name__``,
    ``__qualname__``, ``__module__`` and its code object (what tracebacks and profilers read).
    ``module.qualname`` must then lead back to ``fn``."""
    qualname = qualname or name
    fn.__code__ = fn.__code__.replace(co_name=name, co_qualname=qualname)
    fn.__name__, fn.__qualname__, fn.__module__ = name, qualname, module
    if doc is not None:
        fn.__doc__ = doc
    return fn
