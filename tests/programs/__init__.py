"""Program shapes of well-known public PyTorch programs, written from scratch for
tests/test_programs.py (vision.py, tutorials.py, text.py, recurrent.py).

Each program is written once against a ``torch`` argument, so the very same code runs on
PyTorch and on wgtorch. Data are small synthetic numpy arrays, sizes are shrunk so that the
software adapter runs a few steps in seconds, and the things that cannot match between two
libraries are handled by the harness, not by the programs:

- randomness: the harness copies PyTorch's initial state into wgtorch (``build`` returns the
  modules and tensors to copy) and turns every dropout to p=0 (the libraries' random streams
  differ); the few programs that draw noise inside training take it from ``data``;
- shuffling: loaders read in order.

A program is a ``Program`` with ``data(rng)``, ``build(torch)`` and ``train(torch, parts,
data, workdir)``, which returns the numbers the harness compares (losses, accuracies...).
"""

REGISTRY = []


class Program:
    """One program shape: ``needs`` names wgtorch attributes it uses that may not exist yet
    (``"nn.LSTM"``), ``rtol``/``atol`` how close its numbers must be to PyTorch's."""

    name = ""
    needs = ()
    rtol, atol = 2e-4, 2e-5

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name:
            REGISTRY.append(cls())

    def data(self, rng):
        return {}

    def build(self, torch):
        raise NotImplementedError

    def train(self, torch, parts, data, workdir):
        raise NotImplementedError


def accelerator_device(torch):
    """pytorch/examples' idiom: the accelerator when there is one, else cpu."""
    if torch.accelerator.is_available():
        return torch.accelerator.current_accelerator()
    return torch.device("cpu")
