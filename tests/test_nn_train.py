"""End to end: a small MLP and a small CNN learn deterministic synthetic tasks."""

import numpy as np

import wgtorch as torch
from wgtorch import nn
from wgtorch.nn import functional as F


def spiral_data(n_per_class, classes, rng):
    """Interleaved 2-D spirals: not linearly separable, learnable by a small MLP."""
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.1, 1.0, n_per_class)
        theta = c * 2 * np.pi / classes + r * 3.0 + rng.normal(0, 0.05, n_per_class)
        xs.append(np.stack([r * np.cos(theta), r * np.sin(theta)], 1))
        ys.append(np.full(n_per_class, c))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


def accuracy(logits, labels):
    return float((logits.argmax(1).numpy() == labels).mean())


def test_mlp_learns_spirals():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x_np, y_np = spiral_data(128, 3, rng)
    x, y = torch.tensor(x_np), torch.tensor(y_np)
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.GELU(),
                          nn.Linear(64, 3))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    model.eval()
    assert accuracy(model(x), y_np) > 0.95
    assert loss.item() < 0.2


def bar_images(n, rng):
    """8x8 images with one bar (horizontal, vertical, diagonal, anti-diagonal) + noise."""
    labels = rng.integers(0, 4, n)
    imgs = rng.normal(0, 0.3, (n, 1, 8, 8)).astype(np.float32)
    for i, c in enumerate(labels):
        o = rng.integers(1, 7)
        if c == 0:
            imgs[i, 0, o, 1:7] += 1.5
        elif c == 1:
            imgs[i, 0, 1:7, o] += 1.5
        elif c == 2:
            imgs[i, 0, np.arange(1, 7), np.arange(1, 7)] += 1.5
        else:
            imgs[i, 0, np.arange(1, 7), np.arange(6, 0, -1)] += 1.5
    return imgs, labels


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.1), nn.Linear(16, 4))

    def forward(self, x):
        return self.head(self.features(x))


def test_cnn_learns_bar_orientation():
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    x_train, y_train = bar_images(512, rng)
    x_test, y_test = bar_images(256, rng)
    model = SmallCNN()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    xt, yt = torch.tensor(x_train), torch.tensor(y_train)
    for epoch in range(6):
        perm = rng.permutation(512)
        for start in range(0, 512, 64):
            idx = torch.tensor(perm[start:start + 64])
            opt.zero_grad()
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = accuracy(model(torch.tensor(x_test)), y_test)
    assert acc > 0.95, acc
