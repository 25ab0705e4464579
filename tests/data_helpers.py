"""Datasets shared by the wgtorch.utils.data tests (test_data.py, test_data_loader.py)."""

from wgtorch.utils.data import Dataset


class Rows(Dataset):
    """The seed document's MyDataset: samples are views ``data[i]`` of GPU tensors."""

    def __init__(self, data, labels):
        self.data, self.labels = data, labels

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        return self.data[i], self.labels[i]
