import numpy as np
import pytest

import wgtorch as torch
from helpers import assert_close, check_op


def test_vector_and_matrix_norms():
    a = np.random.default_rng(1).standard_normal((4, 5))
    t = torch.tensor(a)
    assert_close(torch.linalg.vector_norm(t), np.linalg.norm(a.ravel()), atol=1e-4)
    assert_close(torch.linalg.norm(t, dim=1), np.linalg.norm(a, axis=1), atol=1e-4)
    for ord in ("fro", 1, -1, np.inf, -np.inf):
        assert_close(torch.linalg.matrix_norm(t, ord), np.linalg.norm(a, ord), atol=1e-4)
    assert_close(torch.linalg.vecdot(t, t), (a * a).sum(-1), atol=1e-4)


def test_matrix_norm_grad_and_error():
    check_op([(3, 4)], lambda x: torch.linalg.matrix_norm(x),
             ref=lambda x: np.linalg.norm(x, "fro"))
    with pytest.raises(RuntimeError, match="Order nuc not supported"):
        torch.linalg.matrix_norm(torch.ones(2, 2), "nuc")
