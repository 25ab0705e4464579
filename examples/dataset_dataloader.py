"""Dataset and DataLoader: a custom Dataset over GPU tensors, batched, shuffled, trained on.

``MyDataset`` returns ``(data[i], labels[i])``; the DataLoader shuffles, batches and collates
them (one gather kernel per field and batch, since the rows live on the GPU) while the
previous step computes. Trains the 784-128-10 MLP on random data it can memorise. Only the
import differs from the PyTorch script.
"""

import wgtorch as torch
import wgtorch.nn as nn
from wgtorch.utils.data import DataLoader, Dataset


class MyDataset(Dataset):
    def __init__(self, data, labels):
        self.data = data
        self.labels = labels

    def __len__(self):
        return len(self.data)

    def __getitem__(self, idx):
        return self.data[idx], self.labels[idx]


def main(epochs=20):
    torch.manual_seed(0)
    data = torch.randn(100, 784)
    labels = torch.randint(0, 10, (100,))
    dataset = MyDataset(data, labels)
    loader = DataLoader(dataset, batch_size=32, shuffle=True)

    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(epochs):
        total = 0.0
        for batch_data, batch_labels in loader:
            optimizer.zero_grad()
            loss = criterion(model(batch_data), batch_labels)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch_labels)
        if epoch % 5 == 4:
            print(f"epoch {epoch + 1}: loss {total / len(dataset):.4f}")
    with torch.no_grad():
        accuracy = (model(data).argmax(1) == labels).float().mean().item()
    print(f"training accuracy {100 * accuracy:.0f}%")
    return accuracy


if __name__ == "__main__":
    main()
