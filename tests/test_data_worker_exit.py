"""A DataLoader worker that dies (issue 17): the parent raises PyTorch's "DataLoader worker
(pid(s) ...) exited unexpectedly" RuntimeError and the process, its GPU and later loaders keep
working; compared with torch 2.13's DataLoader on the same Datasets.

NOTE: torch's DataLoader runs in a subprocess here: it installs a process-wide SIGCHLD handler
that raises its error asynchronously, wherever the process happens to be, when any child of
the process exits later."""

import importlib.util
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import wgtorch as torch
from wgtorch.utils.data import DataLoader, Dataset

EXITED = r"DataLoader worker \(pid\(s\) [0-9, ]+\) exited unexpectedly"
# torch words it either way, depending on whether its SIGCHLD handler saw the death first
TORCH_EXITED = (r"DataLoader worker \(pid(\(s\))? [0-9, ]+\) (exited unexpectedly|is killed by "
                "signal)")


def _die(how):
    if how == "never":
        return
    if how == "os._exit":
        os._exit(1)
    if how == "sys.exit":
        sys.exit(3)
    os.kill(os.getpid(), getattr(signal, how))


class DyingWorkers(Dataset):
    """Rows of a wgtorch (or torch) tensor; a worker process dies at its first item."""

    def __init__(self, lib, how):
        self.rows, self.how = lib.arange(20.0).view(10, 2), how
        self.worker_info = lib.utils.data.get_worker_info  # wgtorch's or torch's

    def __len__(self):
        return 10

    def __getitem__(self, i):
        if self.worker_info() is not None:
            _die(self.how)
        return self.rows[i]


class DyingDataset(DyingWorkers):
    """The same, but the Dataset exits wherever it runs (at item 5)."""

    def __getitem__(self, i):
        if i == 5:
            _die(self.how)
        return self.rows[i]


def _device_still_computes():
    assert (torch.arange(4.0) * 2).sum().item() == 12.0


@pytest.mark.parametrize("how", ["os._exit", "sys.exit", "SIGKILL", "SIGSEGV"])
def test_a_worker_that_dies_raises_pytorchs_error(how):
    with pytest.raises(RuntimeError, match=EXITED):
        list(DataLoader(DyingWorkers(torch, how), batch_size=2, num_workers=2))
    _device_still_computes()
    batches = list(DataLoader(DyingWorkers(torch, "never"), batch_size=5))
    assert [b.tolist() for b in batches][1][0] == [10.0, 11.0]


def test_sys_exit_in_a_gpu_dataset_loading_in_the_main_process_raises_instead_of_exiting():
    """The Dataset needs the GPU, so wgtorch loads it in the main process (with a warning);
    there its sys.exit() raises the error PyTorch raises when the worker running it exits."""
    with pytest.warns(UserWarning, match="loading in the main process"):
        with pytest.raises(RuntimeError, match="DataLoader worker exited unexpectedly.*"
                                               "SystemExit\\(3\\)"):
            list(DataLoader(DyingDataset(torch, "sys.exit"), batch_size=2, num_workers=2))
    _device_still_computes()


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_gpu_dataset_with_spawned_workers_loads_in_the_main_process(start_method):
    """Was: TypeError "cannot pickle '_cffi_backend._CDataBase' object"."""
    loader = DataLoader(DyingDataset(torch, "never"), batch_size=4, num_workers=2,
                        multiprocessing_context=start_method)
    with pytest.warns(UserWarning, match=f"started with '{start_method}' cannot receive"):
        batches = list(loader)
    expected = np.arange(20.0).reshape(10, 2)
    assert np.array_equal(np.concatenate([b.numpy() for b in batches]), expected)
    assert np.array_equal(np.concatenate([b.numpy() for b in loader]), expected)  # 2nd epoch


TORCH_REFERENCE = """
import os, re, sys, torch
sys.path.insert(0, sys.argv[1])
from test_data_worker_exit import TORCH_EXITED, DyingWorkers
# NOTE: not DyingDataset: in torch a worker dying after it has sent batches races with their
# arrival (EOFError or ConnectionResetError instead of its RuntimeError, now and then)
for dataset in [DyingWorkers(torch, how) for how in ("os._exit", "sys.exit", "SIGKILL",
                                                     "SIGSEGV")]:
    # NOTE: each case in its own child: torch's SIGCHLD handler raises again, anywhere, later
    pid = os.fork()
    if pid == 0:
        try:
            list(torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=2))
            ok = False
        except RuntimeError as exc:
            ok = re.search(TORCH_EXITED, str(exc)) is not None
        print(dataset.how, "ok" if ok else "WRONG", flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
"""


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs PyTorch")
def test_torch_raises_the_same_error_for_the_same_datasets():
    here = os.path.dirname(__file__)
    result = subprocess.run([sys.executable, "-c", TORCH_REFERENCE, here], capture_output=True,
                            text=True, timeout=300)
    assert result.stdout.split() == ["os._exit", "ok", "sys.exit", "ok", "SIGKILL", "ok",
                                     "SIGSEGV", "ok"], result.stderr[-2000:]
