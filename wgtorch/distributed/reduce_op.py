"""``ReduceOp`` and how each reduction runs on MPI, over host arrays.

PyTorch's names and numbering (``ReduceOp.SUM`` is ``RedOpType.SUM``, value 0). MPI has no
average: AVG is MPI's sum divided by the group size afterwards (truncated toward zero for
integer tensors, as NCCL does). float16 is reduced in float32 (MPI has no half type) and
rounded back on upload; bool reduces with MPI's logical operators (SUM and MAX are OR,
PRODUCT and MIN are AND, as PyTorch's backends do for bool).
"""

import enum

import numpy as np


class ReduceOp:
    """The reduction of ``all_reduce``, ``reduce`` and ``reduce_scatter``:
    ``ReduceOp.SUM`` (default), ``AVG``, ``PRODUCT``, ``MIN``, ``MAX``, ``BAND``, ``BOR``,
    ``BXOR``. Example: ``dist.all_reduce(t, op=dist.ReduceOp.MAX)``."""

    class RedOpType(enum.IntEnum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7
        PREMUL_SUM = 8

        def __repr__(self):
            return f"<RedOpType.{self.name}: {self.value}>"

        def __str__(self):
            return f"RedOpType.{self.name}"

    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR
    PREMUL_SUM = RedOpType.PREMUL_SUM


_MPI_NAME = {
    ReduceOp.SUM: "SUM", ReduceOp.AVG: "SUM", ReduceOp.PRODUCT: "PROD", ReduceOp.MIN: "MIN",
    ReduceOp.MAX: "MAX", ReduceOp.BAND: "BAND", ReduceOp.BOR: "BOR", ReduceOp.BXOR: "BXOR",
}
_MPI_NAME_BOOL = {
    ReduceOp.SUM: "LOR", ReduceOp.AVG: "LOR", ReduceOp.MAX: "LOR", ReduceOp.BOR: "LOR",
    ReduceOp.PRODUCT: "LAND", ReduceOp.MIN: "LAND", ReduceOp.BAND: "LAND",
    ReduceOp.BXOR: "LXOR",
}
_BITWISE = (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR)


def as_reduce_op(op, where):
    """``op`` as a ``ReduceOp.RedOpType``; ValueError for anything else."""
    try:
        op = ReduceOp.RedOpType(op)
    except (ValueError, TypeError):
        raise ValueError(f"{where}: op must be a torch.distributed.ReduceOp, got {op!r}") from None
    if op is ReduceOp.PREMUL_SUM:
        raise ValueError(f"{where}: ReduceOp.PREMUL_SUM is not supported by the MPI backend")
    return op


class HostReduction:
    """One reduction on host arrays: the array MPI reduces, its MPI op, and the step after."""

    def __init__(self, op, dtype, where):
        self.op = op
        self.dtype = np.dtype(dtype)
        kind = self.dtype.kind
        if op in _BITWISE and kind == "f":
            raise RuntimeError(f"{where}: {op.name} is defined for integer and bool tensors only, "
                               f"got {self.dtype.name}")
        self.is_bool = kind == "b"
        self.mpi_name = (_MPI_NAME_BOOL if self.is_bool else _MPI_NAME)[op]

    def working_array(self, array):
        """``array`` in the type MPI reduces (a fresh copy when the type changes)."""
        if self.is_bool:
            return array.astype(np.uint8)
        if self.dtype == np.float16:
            return array.astype(np.float32)
        return array

    def finish(self, reduced, group_size):
        """The reduced array, averaged for AVG, in the caller's numpy dtype."""
        if self.op is ReduceOp.AVG and not self.is_bool:
            if reduced.dtype.kind == "f":
                reduced /= group_size
            else:
                reduced = np.trunc(reduced / group_size).astype(reduced.dtype)
        return reduced.astype(self.dtype, copy=False)

    def mpi_op(self, mpi):
        return getattr(mpi, self.mpi_name)


__all__ = ["HostReduction", "ReduceOp", "as_reduce_op"]
