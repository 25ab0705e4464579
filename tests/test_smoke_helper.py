import numpy as np

from helpers import check_op


def test_mul_broadcast():
    check_op([(5, 7), (7,)], lambda x, y: x * y)


def test_tanh_exp_chain():
    check_op([(3, 4)], lambda x: (x.tanh() + 1) * 2, ref=lambda x: (np.tanh(x) + 1) * 2)
