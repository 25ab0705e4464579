"""``torch.backends.mha``: the MultiheadAttention fast-path switch (recorded; wgtorch has one
attention path)."""

_state = {"fastpath": True}


def get_fastpath_enabled():
    return _state["fastpath"]


def set_fastpath_enabled(value):
    _state["fastpath"] = bool(value)
