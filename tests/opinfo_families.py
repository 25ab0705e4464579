"""Which family an op_db entry belongs to, for the coverage table (docs/op_coverage.md)."""

from torch.testing._internal.opinfo.core import BinaryUfuncInfo, ReductionOpInfo, UnaryUfuncInfo

FAMILIES = ("special", "masked", "signal windows", "linalg", "unary math", "reductions/scans",
            "nn.functional", "shape/indexing", "binary", "other")

LINALG = {
    "addmm", "addmv", "addbmm", "baddbmm", "dot", "vdot", "bmm", "mv", "addr", "mm", "matmul",
    "__rmatmul__", "cholesky", "cholesky_inverse", "cholesky_solve", "geqrf", "lu", "lu_solve",
    "lu_unpack", "matrix_exp", "ormqr", "pinverse", "qr", "svd", "svd_lowrank", "pca_lowrank",
    "triangular_solve", "logdet", "kron", "inner", "outer", "tensordot", "einsum", "trace",
    "cross", "dist", "norm", "renorm", "cdist", "chain_matmul", "torch._scaled_mm",
    "torch._scaled_mm_v2",
}
REDUCTIONS = {
    "cumsum", "cumprod", "cummax", "cummin", "logcumsumexp", "cumulative_trapezoid", "diff",
    "max", "min", "median", "nanmedian", "mode", "kthvalue", "var_mean", "std_mean", "aminmax",
    "quantile", "nanquantile", "logsumexp", "histc", "histogram", "histogramdd", "bincount",
    "trapz", "trapezoid", "topk", "sort", "argsort", "msort", "unique", "unique_consecutive",
    "index_reduce", "scatter_reduce", "_segment_reduce", "softmax", "log_softmax",
    "_softmax_backward_data", "torch.ops.aten._safe_softmax.default", "corrcoef", "cov",
    "searchsorted", "bucketize", "gradient",
}
SHAPE_INDEXING = {
    "broadcast_to", "broadcast_shapes", "broadcast_tensors", "block_diag", "combinations",
    "cartesian_prod", "chunk", "unsafe_chunk", "clone", "contiguous", "sum_to_size",
    "expand", "expand_as", "expand_copy", "diag", "diag_embed", "diagonal", "diagonal_copy",
    "diagonal_scatter", "alias_copy", "flip", "fliplr", "flipud", "masked_fill",
    "masked_scatter", "masked_select", "meshgrid", "as_strided", "as_strided_copy",
    "as_strided_scatter", "constant_pad_nd", "narrow", "narrow_copy", "view_copy", "permute",
    "permute_copy", "roll", "rot90", "split", "unsafe_split", "split_with_sizes",
    "split_with_sizes_copy", "select", "select_scatter", "slice", "slice_scatter",
    "tensor_split", "hsplit", "vsplit", "dsplit", "ravel", "unravel_index", "reshape",
    "reshape_as", "view", "view_as", "atleast_1d", "atleast_2d", "atleast_3d", "flatten",
    "unflatten", "column_stack", "gather", "index_fill", "index_copy", "index_select",
    "index_add", "_unsafe_masked_index", "_unsafe_masked_index_put_accumulate", "__getitem__",
    "index_put", "put", "take", "scatter", "scatter_add", "stack", "_chunk_cat", "hstack",
    "cat", "unbind", "unbind_copy", "vstack", "dstack", "unfold", "unfold_copy", "movedim",
    "repeat", "squeeze", "squeeze_copy", "resize_", "resize_as_", "take_along_dim", "tile",
    "unsqueeze", "unsqueeze_copy", "transpose", "transpose_copy", "T", "H", "mT", "mH",
    "tril", "triu", "triu_indices", "tril_indices", "nonzero", "nonzero_static", "argwhere",
    "repeat_interleave", "diagflat", "t", "t_copy", "where", "view_as_real",
    "view_as_complex", "resolve_conj", "resolve_neg",
}


def family(op):
    """The coverage-table family of an OpInfo."""
    name = op.name
    head = name.split(".")[0]
    if head == "special":
        return "special"
    if head in ("masked", "_masked"):
        return "masked"
    if name.startswith("signal.windows."):
        return "signal windows"
    if head == "linalg" or name in LINALG:
        return "linalg"
    if head == "nn":
        return "nn.functional"
    if name in REDUCTIONS or isinstance(op, ReductionOpInfo):
        return "reductions/scans"
    if name in SHAPE_INDEXING:
        return "shape/indexing"
    if isinstance(op, UnaryUfuncInfo):
        return "unary math"
    if isinstance(op, BinaryUfuncInfo):
        return "binary"
    return "other"
