"""``torch.onnx``: importable, so scripts that export after training run their training.

Writing ONNX needs the graph of the model, which wgtorch's eager tape does not keep; the
capture work (issue 16: torch.compile / graph capture) will give ``export`` a traced graph to
write. Until then ``export`` raises NotImplementedError and ``is_in_onnx_export()`` is False.
"""

__all__ = ["export", "dynamo_export", "is_in_onnx_export", "is_onnxrt_backend_supported"]

_NOT_YET = ("torch.onnx.export is not implemented in wgtorch yet: ONNX export needs a traced "
            "graph of the model, which wgtorch's graph capture (issue 16) will provide. To "
            "export now, load the state_dict into the same model in PyTorch "
            "(torch.save(model.state_dict(), ...) writes a file PyTorch reads) and call "
            "torch.onnx.export there.")


def export(model, args=(), f=None, *unused_args, **unused_kwargs):
    """Raises NotImplementedError (see the module docstring for the PyTorch route)."""
    raise NotImplementedError(_NOT_YET)


def dynamo_export(model, *model_args, **model_kwargs):
    """Raises NotImplementedError, as ``export``."""
    raise NotImplementedError(_NOT_YET)


def is_in_onnx_export():
    """False: wgtorch never runs a model under ONNX export."""
    return False


def is_onnxrt_backend_supported():
    return False
