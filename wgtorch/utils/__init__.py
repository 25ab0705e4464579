"""``wgtorch.utils``: the data pipeline (``wgtorch.utils.data``)."""

from . import data

__all__ = ["data"]
