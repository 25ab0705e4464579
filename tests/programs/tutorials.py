"""Tutorial program shapes: the quickstart and "What is torch.nn really?"."""

import math

import numpy as np

from . import Program


class Quickstart(Program):
    """Quickstart: Flatten + Linear/ReLU stack, CrossEntropyLoss, SGD, train/test loops over
    DataLoaders, the state_dict saved and reloaded with weights_only=True, one prediction
    named through ``classes[pred[0].argmax(0)]``."""

    name = "quickstart"

    def data(self, rng):
        return {"x": rng.uniform(0, 1, (16, 1, 8, 8)).astype(np.float32),
                "y": rng.integers(0, 10, 16),
                "tx": rng.uniform(0, 1, (8, 1, 8, 8)).astype(np.float32),
                "ty": rng.integers(0, 10, 8)}

    def build(self, torch):
        nn = torch.nn
        device = (torch.accelerator.current_accelerator().type
                  if torch.accelerator.is_available() else "cpu")

        class NeuralNetwork(nn.Module):
            def __init__(self):
                super().__init__()
                self.flatten = nn.Flatten()
                self.linear_relu_stack = nn.Sequential(
                    nn.Linear(8 * 8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                    nn.Linear(32, 10))

            def forward(self, x):
                return self.linear_relu_stack(self.flatten(x))

        return {"model": NeuralNetwork().to(device)}

    def train(self, torch, parts, data, workdir):
        from_tensors = torch.utils.data.TensorDataset
        device = (torch.accelerator.current_accelerator().type
                  if torch.accelerator.is_available() else "cpu")
        model = parts["model"]
        training_data = from_tensors(torch.tensor(data["x"]), torch.tensor(data["y"]))
        test_data = from_tensors(torch.tensor(data["tx"]), torch.tensor(data["ty"]))
        train_dataloader = torch.utils.data.DataLoader(training_data, batch_size=4)
        test_dataloader = torch.utils.data.DataLoader(test_data, batch_size=4)
        loss_fn = torch.nn.CrossEntropyLoss()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-1)
        out = []

        def train(dataloader, model, loss_fn, optimizer):
            size = len(dataloader.dataset)
            model.train()
            for batch, (X, y) in enumerate(dataloader):
                X, y = X.to(device), y.to(device)
                loss = loss_fn(model(X), y)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                loss, current = loss.item(), (batch + 1) * len(X)
                assert current <= size
                out.append(loss)

        def test(dataloader, model, loss_fn):
            size = len(dataloader.dataset)
            num_batches = len(dataloader)
            model.eval()
            test_loss, correct = 0, 0
            with torch.no_grad():
                for X, y in dataloader:
                    X, y = X.to(device), y.to(device)
                    pred = model(X)
                    test_loss += loss_fn(pred, y).item()
                    correct += (pred.argmax(1) == y).type(torch.float).sum().item()
            out.extend([test_loss / num_batches, correct / size])

        for t in range(2):
            train(train_dataloader, model, loss_fn, optimizer)
            test(test_dataloader, model, loss_fn)
        torch.save(model.state_dict(), workdir / "model.pth")
        model = type(model)().to(device)
        model.load_state_dict(torch.load(workdir / "model.pth", weights_only=True))
        classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]
        model.eval()
        x, y = test_data[0][0], test_data[0][1]
        with torch.no_grad():
            x = x.to(device)
            pred = model(x)
            predicted, actual = classes[pred[0].argmax(0)], classes[y]
        out += [classes.index(predicted), classes.index(actual)]
        return out


class NnReally(Program):
    """"What is torch.nn really?": logistic regression from scratch (``x @ weights + bias``,
    a hand-written log_softmax, ``input[range(n), target]`` NLL, updates under no_grad),
    then the refactored CNN: nn.Sequential with a Lambda layer, AdaptiveAvgPool2d, SGD with
    momentum, a WrappedDataLoader and fit() with numpy-averaged validation losses."""

    name = "what_is_nn_really"

    def data(self, rng):
        return {"x_train": rng.uniform(0, 1, (20, 784)).astype(np.float32),
                "y_train": rng.integers(0, 10, 20),
                "x_valid": rng.uniform(0, 1, (10, 784)).astype(np.float32),
                "y_valid": rng.integers(0, 10, 10)}

    def build(self, torch):
        nn = torch.nn

        class Lambda(nn.Module):
            def __init__(self, func):
                super().__init__()
                self.func = func

            def forward(self, x):
                return self.func(x)

        weights = torch.randn(784, 10) / math.sqrt(784)
        weights.requires_grad_()
        bias = torch.zeros(10, requires_grad=True)
        model = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), Lambda(lambda x: x.view(x.size(0), -1)))
        return {"weights": weights, "bias": bias, "cnn": model}

    def train(self, torch, parts, data, workdir):
        F = torch.nn.functional
        x_train, y_train, x_valid, y_valid = map(
            torch.tensor, (data["x_train"], data["y_train"], data["x_valid"], data["y_valid"]))
        n, c = x_train.shape
        weights, bias = parts["weights"], parts["bias"]
        out = []

        def log_softmax(x):
            return x - x.exp().sum(-1).log().unsqueeze(-1)

        def model(xb):
            return log_softmax(xb @ weights + bias)

        def nll(input, target):
            return -input[range(target.shape[0]), target].mean()

        def accuracy(out, yb):
            preds = torch.argmax(out, dim=1)
            return (preds == yb).float().mean()

        loss_func = nll
        bs, lr = 8, 0.5
        for epoch in range(2):
            for i in range((n - 1) // bs + 1):
                start_i = i * bs
                xb, yb = x_train[start_i:start_i + bs], y_train[start_i:start_i + bs]
                loss = loss_func(model(xb), yb)
                loss.backward()
                with torch.no_grad():
                    weights -= weights.grad * lr
                    bias -= bias.grad * lr
                    weights.grad.zero_()
                    bias.grad.zero_()
                out.append(loss.item())
        out += [loss_func(model(x_valid), y_valid).item(), accuracy(model(x_valid),
                                                                   y_valid).item()]

        dev = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")

        def preprocess(x, y):
            return x.view(-1, 1, 28, 28).to(dev), y.to(dev)

        class WrappedDataLoader:
            def __init__(self, dl, func):
                self.dl, self.func = dl, func

            def __len__(self):
                return len(self.dl)

            def __iter__(self):
                for b in self.dl:
                    yield self.func(*b)

        def loss_batch(model, loss_func, xb, yb, opt=None):
            loss = loss_func(model(xb), yb)
            if opt is not None:
                loss.backward()
                opt.step()
                opt.zero_grad()
            return loss.item(), len(xb)

        train_ds = torch.utils.data.TensorDataset(x_train, y_train)
        valid_ds = torch.utils.data.TensorDataset(x_valid, y_valid)
        train_dl = WrappedDataLoader(torch.utils.data.DataLoader(train_ds, batch_size=bs),
                                     preprocess)
        valid_dl = WrappedDataLoader(torch.utils.data.DataLoader(valid_ds, batch_size=bs * 2),
                                     preprocess)
        cnn = parts["cnn"].to(dev)
        opt = torch.optim.SGD(cnn.parameters(), lr=0.1, momentum=0.9)
        for epoch in range(2):
            cnn.train()
            for xb, yb in train_dl:
                out.append(loss_batch(cnn, F.cross_entropy, xb, yb, opt)[0])
            cnn.eval()
            with torch.no_grad():
                losses, nums = zip(*[loss_batch(cnn, F.cross_entropy, xb, yb)
                                     for xb, yb in valid_dl])
            out.append(np.sum(np.multiply(losses, nums)) / np.sum(nums))
        return out
