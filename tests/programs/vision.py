"""Vision program shapes: pytorch/examples' mnist, vae, dcgan, super_resolution and
fast_neural_style, and the 60-minute blitz's neural-network and CIFAR-10 tutorials."""

import math

import numpy as np

from . import Program, accelerator_device


def images(rng, n, c, h, w=None):
    return rng.uniform(0, 1, size=(n, c, h, w or h)).astype(np.float32)


class MnistCNN(Program):
    """examples/mnist: two convs, max-pool, dropout, two linears, log_softmax; Adadelta with
    StepLR, nll_loss; a test pass counting correct predictions; state_dict saved."""

    name = "mnist_cnn_adadelta_steplr"

    def data(self, rng):
        return {"x": images(rng, 12, 1, 12), "y": rng.integers(0, 10, 12),
                "tx": images(rng, 6, 1, 12), "ty": rng.integers(0, 10, 6)}

    def build(self, torch):
        nn, F = torch.nn, torch.nn.functional

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 4, 3, 1)
                self.conv2 = nn.Conv2d(4, 8, 3, 1)
                self.dropout1 = nn.Dropout(0.25)
                self.dropout2 = nn.Dropout(0.5)
                self.fc1 = nn.Linear(128, 32)
                self.fc2 = nn.Linear(32, 10)

            def forward(self, x):
                x = F.relu(self.conv1(x))
                x = F.relu(self.conv2(x))
                x = F.max_pool2d(x, 2)
                x = self.dropout1(x)
                x = torch.flatten(x, 1)
                x = F.relu(self.fc1(x))
                x = self.dropout2(x)
                return F.log_softmax(self.fc2(x), dim=1)

        return {"model": Net().to(accelerator_device(torch))}

    def train(self, torch, parts, data, workdir):
        from_np = torch.utils.data.TensorDataset
        device = accelerator_device(torch)
        model = parts["model"]
        train_loader = torch.utils.data.DataLoader(
            from_np(torch.tensor(data["x"]), torch.tensor(data["y"])), batch_size=4)
        test_loader = torch.utils.data.DataLoader(
            from_np(torch.tensor(data["tx"]), torch.tensor(data["ty"])), batch_size=3)
        optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
        out = []
        for epoch in range(2):
            model.train()
            for data_, target in train_loader:
                data_, target = data_.to(device), target.to(device)
                optimizer.zero_grad()
                loss = torch.nn.functional.nll_loss(model(data_), target)
                loss.backward()
                optimizer.step()
                out.append(loss.item())
            model.eval()
            test_loss, correct = 0, 0
            with torch.no_grad():
                for data_, target in test_loader:
                    data_, target = data_.to(device), target.to(device)
                    output = model(data_)
                    test_loss += torch.nn.functional.nll_loss(output, target,
                                                              reduction="sum").item()
                    pred = output.argmax(dim=1, keepdim=True)
                    correct += pred.eq(target.view_as(pred)).sum().item()
            out += [test_loss / len(test_loader.dataset), correct]
            scheduler.step()
            out.append(scheduler.get_last_lr()[0])
        torch.save(model.state_dict(), workdir / "mnist_cnn.pt")
        return out


class VAE(Program):
    """examples/vae: fc encoder to (mu, logvar), reparameterisation, fc decoder with a
    sigmoid; BCE(sum) + KL divergence; Adam; a test pass and sampling from the prior."""

    name = "vae"

    def data(self, rng):
        return {"x": rng.uniform(0, 1, (12, 1, 8, 8)).astype(np.float32),
                "eps": rng.standard_normal((4, 4, 6)).astype(np.float32),
                "sample": rng.standard_normal((5, 6)).astype(np.float32)}

    def build(self, torch):
        nn, F = torch.nn, torch.nn.functional

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(64, 24)
                self.fc21 = nn.Linear(24, 6)
                self.fc22 = nn.Linear(24, 6)
                self.fc3 = nn.Linear(6, 24)
                self.fc4 = nn.Linear(24, 64)
                self.noise = []  # the harness's eps (the libraries' random streams differ)

            def encode(self, x):
                h1 = F.relu(self.fc1(x))
                return self.fc21(h1), self.fc22(h1)

            def reparameterize(self, mu, logvar):
                std = torch.exp(0.5 * logvar)
                eps = self.noise.pop(0) if self.noise else torch.randn_like(std)
                return mu + eps * std

            def decode(self, z):
                h3 = F.relu(self.fc3(z))
                return torch.sigmoid(self.fc4(h3))

            def forward(self, x):
                mu, logvar = self.encode(x.view(-1, 64))
                z = self.reparameterize(mu, logvar)
                return self.decode(z), mu, logvar

        return {"model": VAE().to(accelerator_device(torch))}

    def train(self, torch, parts, data, workdir):
        F = torch.nn.functional
        device = accelerator_device(torch)
        model = parts["model"]

        def loss_function(recon_x, x, mu, logvar):
            bce = F.binary_cross_entropy(recon_x, x.view(-1, 64), reduction="sum")
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            return bce + kld

        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.tensor(data["x"])), batch_size=4)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.noise = [torch.tensor(e).to(device) for e in data["eps"]]
        out = []
        model.train()
        for (x,) in loader:
            x = x.to(device)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(x)
            loss = loss_function(recon_batch, x, mu, logvar)
            loss.backward()
            optimizer.step()
            out.append(loss.item() / len(x))
        model.eval()
        with torch.no_grad():
            model.noise = [torch.tensor(data["eps"][3]).to(device)]
            recon, mu, logvar = model(torch.tensor(data["x"][:4]).to(device))
            out.append(loss_function(recon, torch.tensor(data["x"][:4]).to(device), mu,
                                     logvar).item())
            sample = model.decode(torch.tensor(data["sample"]).to(device)).cpu()
            out += sample.view(5, 1, 8, 8).mean((1, 2, 3)).tolist()
        return out


class DCGAN(Program):
    """examples/dcgan: ConvTranspose2d/BatchNorm/ReLU generator, Conv2d/LeakyReLU/BatchNorm
    discriminator, weights_init by class name, BCELoss, Adam(0.5, 0.999), the D then G step."""

    name = "dcgan_step"
    nz, ngf, ndf, nc = 8, 4, 4, 3

    def data(self, rng):
        return {"real": rng.uniform(-1, 1, (3, 4, self.nc, 16, 16)).astype(np.float32),
                "noise": rng.standard_normal((3, 4, self.nz, 1, 1)).astype(np.float32)}

    def build(self, torch):
        nn = torch.nn
        nz, ngf, ndf, nc, ngpu = self.nz, self.ngf, self.ndf, self.nc, 1
        device = torch.device("cuda:0" if (torch.cuda.is_available() and ngpu > 0) else "cpu")

        def weights_init(m):
            classname = m.__class__.__name__
            if classname.find("Conv") != -1:
                torch.nn.init.normal_(m.weight, 0.0, 0.02)
            elif classname.find("BatchNorm") != -1:
                torch.nn.init.normal_(m.weight, 1.0, 0.02)
                torch.nn.init.zeros_(m.bias)

        class Generator(nn.Module):
            def __init__(self, ngpu):
                super().__init__()
                self.ngpu = ngpu
                self.main = nn.Sequential(
                    nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
                    nn.BatchNorm2d(ngf * 4), nn.ReLU(True),  # (ngf*4) x 4 x 4
                    nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
                    nn.BatchNorm2d(ngf * 2), nn.ReLU(True),  # (ngf*2) x 8 x 8
                    nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False),
                    nn.Tanh())  # nc x 16 x 16

            def forward(self, input):
                if input.is_cuda and self.ngpu > 1:
                    return nn.parallel.data_parallel(self.main, input, range(self.ngpu))
                return self.main(input)

        class Discriminator(nn.Module):
            def __init__(self, ngpu):
                super().__init__()
                self.ngpu = ngpu
                self.main = nn.Sequential(
                    nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                    nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2),
                    nn.LeakyReLU(0.2, inplace=True),  # (ndf*2) x 4 x 4
                    nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False), nn.Sigmoid())

            def forward(self, input):
                return self.main(input).view(-1, 1).squeeze(1)

        net_g, net_d = Generator(ngpu).to(device), Discriminator(ngpu).to(device)
        net_g.apply(weights_init)
        net_d.apply(weights_init)
        return {"G": net_g, "D": net_d}

    def train(self, torch, parts, data, workdir):
        net_g, net_d = parts["G"], parts["D"]
        device = next(net_g.parameters()).device
        criterion = torch.nn.BCELoss()
        real_label, fake_label = 1.0, 0.0
        optimizer_d = torch.optim.Adam(net_d.parameters(), lr=0.0002, betas=(0.5, 0.999))
        optimizer_g = torch.optim.Adam(net_g.parameters(), lr=0.0002, betas=(0.5, 0.999))
        out = []
        for real, z in zip(data["real"], data["noise"]):
            net_d.zero_grad()
            real_cpu = torch.tensor(real).to(device)
            b_size = real_cpu.size(0)
            label = torch.full((b_size,), real_label, dtype=real_cpu.dtype, device=device)
            output = net_d(real_cpu)
            err_d_real = criterion(output, label)
            err_d_real.backward()
            d_x = output.mean().item()
            noise = torch.tensor(z).to(device)
            fake = net_g(noise)
            label.fill_(fake_label)
            output = net_d(fake.detach())
            err_d_fake = criterion(output, label)
            err_d_fake.backward()
            d_g_z1 = output.mean().item()
            err_d = err_d_real + err_d_fake
            optimizer_d.step()
            net_g.zero_grad()
            label.fill_(real_label)
            output = net_d(fake)
            err_g = criterion(output, label)
            err_g.backward()
            d_g_z2 = output.mean().item()
            optimizer_g.step()
            out += [err_d.item(), err_g.item(), d_x, d_g_z1, d_g_z2]
        torch.save(net_g.state_dict(), workdir / "netG_epoch_0.pth")
        return out


class SuperResolution(Program):
    """examples/super_resolution: convs with orthogonal init (relu gain), PixelShuffle,
    MSELoss, Adam; PSNR on a test pass; the checkpoint saved and reloaded."""

    name = "super_resolution_pixelshuffle"

    def data(self, rng):
        hi = rng.uniform(0, 1, (8, 1, 16, 16)).astype(np.float32)
        lo = hi.reshape(8, 1, 8, 2, 8, 2).mean((3, 5))
        return {"input": lo, "target": hi}

    def build(self, torch):
        nn, init = torch.nn, torch.nn.init

        class Net(nn.Module):
            def __init__(self, upscale_factor):
                super().__init__()
                self.relu = nn.ReLU()
                self.conv1 = nn.Conv2d(1, 16, (5, 5), (1, 1), (2, 2))
                self.conv2 = nn.Conv2d(16, 16, (3, 3), (1, 1), (1, 1))
                self.conv3 = nn.Conv2d(16, 8, (3, 3), (1, 1), (1, 1))
                self.conv4 = nn.Conv2d(8, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
                self.pixel_shuffle = nn.PixelShuffle(upscale_factor)
                self._initialize_weights()

            def forward(self, x):
                x = self.relu(self.conv1(x))
                x = self.relu(self.conv2(x))
                x = self.relu(self.conv3(x))
                return self.pixel_shuffle(self.conv4(x))

            def _initialize_weights(self):
                init.orthogonal_(self.conv1.weight, init.calculate_gain("relu"))
                init.orthogonal_(self.conv2.weight, init.calculate_gain("relu"))
                init.orthogonal_(self.conv3.weight, init.calculate_gain("relu"))
                init.orthogonal_(self.conv4.weight)

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return {"model": Net(upscale_factor=2).to(device)}

    def train(self, torch, parts, data, workdir):
        model = parts["model"]
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        dataset = torch.utils.data.TensorDataset(torch.tensor(data["input"]),
                                                 torch.tensor(data["target"]))
        training_data_loader = torch.utils.data.DataLoader(dataset, batch_size=4)
        criterion = torch.nn.MSELoss()
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        out = []
        for epoch in range(1, 3):
            epoch_loss = 0
            for iteration, batch in enumerate(training_data_loader, 1):
                input, target = batch[0].to(device), batch[1].to(device)
                optimizer.zero_grad()
                loss = criterion(model(input), target)
                epoch_loss += loss.item()
                loss.backward()
                optimizer.step()
            out.append(epoch_loss / len(training_data_loader))
            avg_psnr = 0
            with torch.no_grad():
                for batch in training_data_loader:
                    input, target = batch[0].to(device), batch[1].to(device)
                    mse = criterion(model(input), target)
                    avg_psnr += 10 * math.log10(1 / mse.item())
            out.append(avg_psnr / len(training_data_loader))
            torch.save(model.state_dict(), workdir / f"model_epoch_{epoch}.pth")
        model.load_state_dict(torch.load(workdir / "model_epoch_2.pth", weights_only=True))
        out.append(model(torch.tensor(data["input"][:1]).to(device)).mean().item())
        return out


class FastNeuralStyle(Program):
    """examples/fast_neural_style: TransformerNet (ReflectionPad2d convs, InstanceNorm2d,
    residual blocks, nearest-upsample convs), a frozen feature net returning a namedtuple,
    gram matrices, content + style MSE, Adam."""

    name = "fast_neural_style"

    def data(self, rng):
        return {"x": rng.uniform(0, 255, (2, 2, 3, 16, 16)).astype(np.float32),
                "style": rng.uniform(0, 255, (1, 3, 16, 16)).astype(np.float32)}

    def build(self, torch):
        nn = torch.nn
        from collections import namedtuple

        class ConvLayer(nn.Module):
            def __init__(self, in_channels, out_channels, kernel_size, stride):
                super().__init__()
                self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
                self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

            def forward(self, x):
                return self.conv2d(self.reflection_pad(x))

        class ResidualBlock(nn.Module):
            def __init__(self, channels):
                super().__init__()
                self.conv1 = ConvLayer(channels, channels, kernel_size=3, stride=1)
                self.in1 = nn.InstanceNorm2d(channels, affine=True)
                self.conv2 = ConvLayer(channels, channels, kernel_size=3, stride=1)
                self.in2 = nn.InstanceNorm2d(channels, affine=True)
                self.relu = nn.ReLU()

            def forward(self, x):
                residual = x
                out = self.relu(self.in1(self.conv1(x)))
                out = self.in2(self.conv2(out))
                return out + residual

        class UpsampleConvLayer(nn.Module):
            def __init__(self, in_channels, out_channels, kernel_size, stride, upsample=None):
                super().__init__()
                self.upsample = upsample
                self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
                self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

            def forward(self, x):
                x_in = x
                if self.upsample:
                    x_in = nn.functional.interpolate(x_in, mode="nearest",
                                                     scale_factor=self.upsample)
                return self.conv2d(self.reflection_pad(x_in))

        class TransformerNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = ConvLayer(3, 8, kernel_size=5, stride=1)
                self.in1 = nn.InstanceNorm2d(8, affine=True)
                self.conv2 = ConvLayer(8, 16, kernel_size=3, stride=2)
                self.in2 = nn.InstanceNorm2d(16, affine=True)
                self.res1 = ResidualBlock(16)
                self.res2 = ResidualBlock(16)
                self.deconv1 = UpsampleConvLayer(16, 8, kernel_size=3, stride=1, upsample=2)
                self.in4 = nn.InstanceNorm2d(8, affine=True)
                self.deconv3 = ConvLayer(8, 3, kernel_size=5, stride=1)
                self.relu = nn.ReLU()

            def forward(self, x):
                y = self.relu(self.in1(self.conv1(x)))
                y = self.relu(self.in2(self.conv2(y)))
                y = self.res2(self.res1(y))
                y = self.relu(self.in4(self.deconv1(y)))
                return self.deconv3(y)

        class Features(nn.Module):
            """A small stand-in for the frozen VGG16 slices."""

            def __init__(self, requires_grad=False):
                super().__init__()
                self.slice1 = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
                self.slice2 = nn.Sequential(nn.MaxPool2d(2, 2), nn.Conv2d(4, 8, 3, padding=1),
                                            nn.ReLU())
                if not requires_grad:
                    for param in self.parameters():
                        param.requires_grad = False

            def forward(self, x):
                h_relu1_2 = self.slice1(x)
                h_relu2_2 = self.slice2(h_relu1_2)
                outputs = namedtuple("VggOutputs", ["relu1_2", "relu2_2"])
                return outputs(h_relu1_2, h_relu2_2)

        device = torch.device("cuda" if torch.cuda.is_available() else
                              "mps" if torch.backends.mps.is_available() else "cpu")
        return {"transformer": TransformerNet().to(device), "vgg": Features().to(device)}

    def train(self, torch, parts, data, workdir):
        transformer, vgg = parts["transformer"], parts["vgg"]
        device = next(transformer.parameters()).device

        def gram_matrix(y):
            (b, ch, h, w) = y.size()
            features = y.view(b, ch, w * h)
            features_t = features.transpose(1, 2)
            return features.bmm(features_t) / (ch * h * w)

        def normalize_batch(batch):
            mean = batch.new_tensor([0.485, 0.456, 0.406]).view(-1, 1, 1)
            std = batch.new_tensor([0.229, 0.224, 0.225]).view(-1, 1, 1)
            batch = batch.div_(255.0)
            return (batch - mean) / std

        optimizer = torch.optim.Adam(transformer.parameters(), 1e-3)
        mse_loss = torch.nn.MSELoss()
        style = torch.tensor(data["style"]).repeat(2, 1, 1, 1).to(device)
        gram_style = [gram_matrix(y) for y in vgg(normalize_batch(style))]
        out = []
        transformer.train()
        for x in data["x"]:
            x = torch.tensor(x)
            n_batch = len(x)
            optimizer.zero_grad()
            x = x.to(device)
            y = normalize_batch(transformer(x))
            x = normalize_batch(x)
            features_y, features_x = vgg(y), vgg(x)
            content_loss = 1e2 * mse_loss(features_y.relu2_2, features_x.relu2_2)
            style_loss = 0.0
            for ft_y, gm_s in zip(features_y, gram_style):
                style_loss += mse_loss(gram_matrix(ft_y), gm_s[:n_batch, :, :])
            style_loss *= 1e5
            total_loss = content_loss + style_loss
            total_loss.backward()
            optimizer.step()
            out += [content_loss.item(), style_loss.item()]
        transformer.eval().cpu()
        torch.save(transformer.state_dict(), workdir / "style.model")
        return out


class BlitzCNN(Program):
    """The 60-minute blitz: the LeNet-like Net (manual backward with a random gradient,
    ``grad_fn.next_functions``, a hand-written SGD update, then optim.SGD), and the CIFAR-10
    classifier (CrossEntropyLoss, SGD with momentum, save/load, per-class accuracy)."""

    name = "blitz_cnn_cifar10"
    rtol, atol = 5e-4, 5e-5

    def data(self, rng):
        return {"input": rng.standard_normal((1, 1, 32, 32)).astype(np.float32),
                "grad": rng.standard_normal((1, 10)).astype(np.float32),
                "target": rng.standard_normal(10).astype(np.float32),
                "x": rng.uniform(-1, 1, (12, 3, 32, 32)).astype(np.float32),
                "y": rng.integers(0, 10, 12)}

    def build(self, torch):
        nn, F = torch.nn, torch.nn.functional

        class Net(nn.Module):
            def __init__(self):
                super(Net, self).__init__()
                self.conv1 = nn.Conv2d(1, 6, 5)
                self.conv2 = nn.Conv2d(6, 16, 5)
                self.fc1 = nn.Linear(16 * 5 * 5, 120)
                self.fc2 = nn.Linear(120, 84)
                self.fc3 = nn.Linear(84, 10)

            def forward(self, input):
                c1 = F.relu(self.conv1(input))
                s2 = F.max_pool2d(c1, (2, 2))
                c3 = F.relu(self.conv2(s2))
                s4 = F.max_pool2d(c3, 2)
                s4 = torch.flatten(s4, 1)
                f5 = F.relu(self.fc1(s4))
                f6 = F.relu(self.fc2(f5))
                return self.fc3(f6)

        class CifarNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(3, 6, 5)
                self.pool = nn.MaxPool2d(2, 2)
                self.conv2 = nn.Conv2d(6, 16, 5)
                self.fc1 = nn.Linear(16 * 5 * 5, 120)
                self.fc2 = nn.Linear(120, 84)
                self.fc3 = nn.Linear(84, 10)

            def forward(self, x):
                x = self.pool(F.relu(self.conv1(x)))
                x = self.pool(F.relu(self.conv2(x)))
                x = torch.flatten(x, 1)  # flatten all dimensions except batch
                x = F.relu(self.fc1(x))
                x = F.relu(self.fc2(x))
                return self.fc3(x)

        device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
        return {"net": Net(), "cifar": CifarNet().to(device)}

    def train(self, torch, parts, data, workdir):
        nn, optim = torch.nn, torch.optim
        net = parts["net"]
        out = []
        params = list(net.parameters())
        assert len(params) == 10 and params[0].size() == (6, 1, 5, 5)
        input = torch.tensor(data["input"])
        net.zero_grad()
        net(input).backward(torch.tensor(data["grad"]))
        out.append(net.conv1.bias.grad.sum().item())
        output = net(input)
        target = torch.tensor(data["target"]).view(1, -1)
        criterion = nn.MSELoss()
        loss = criterion(output, target)
        # the tutorial prints the graph: loss.grad_fn and its next_functions
        # NOTE: wgtorch's mse_loss is a composite (its grad_fn is MeanBackward1, PyTorch's
        # MseLossBackward0), so only the walk is checked here
        node = loss.grad_fn.next_functions[0][0]
        assert loss.grad_fn is not None and node.next_functions is not None
        net.zero_grad()
        loss.backward()
        out.append(net.conv1.bias.grad.sum().item())
        learning_rate = 0.01
        for f in net.parameters():
            f.data.sub_(f.grad.data * learning_rate)
        optimizer = optim.SGD(net.parameters(), lr=0.01)
        optimizer.zero_grad()
        loss = criterion(net(input), target)
        loss.backward()
        optimizer.step()
        out.append(loss.item())

        classes = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                   "truck")
        device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
        cifar = parts["cifar"]
        dataset = torch.utils.data.TensorDataset(torch.tensor(data["x"]),
                                                 torch.tensor(data["y"]))
        trainloader = torch.utils.data.DataLoader(dataset, batch_size=4, shuffle=False)
        criterion = nn.CrossEntropyLoss()
        optimizer = optim.SGD(cifar.parameters(), lr=0.001, momentum=0.9)
        for epoch in range(2):
            running_loss = 0.0
            for i, data_ in enumerate(trainloader, 0):
                inputs, labels = data_[0].to(device), data_[1].to(device)
                optimizer.zero_grad()
                loss = criterion(cifar(inputs), labels)
                loss.backward()
                optimizer.step()
                running_loss += loss.item()
            out.append(running_loss / len(trainloader))
        path = workdir / "cifar_net.pth"
        torch.save(cifar.state_dict(), path)
        cifar.load_state_dict(torch.load(path, weights_only=True))
        correct, total = 0, 0
        correct_pred = {classname: 0 for classname in classes}
        total_pred = {classname: 0 for classname in classes}
        with torch.no_grad():
            for images, labels in trainloader:
                images, labels = images.to(device), labels.to(device)
                outputs = cifar(images)
                _, predicted = torch.max(outputs, 1)
                names = " ".join(f"{classes[predicted[j]]:5s}" for j in range(4))
                assert len(names.split()) == 4
                total += labels.size(0)
                correct += (predicted == labels).sum().item()
                for label, prediction in zip(labels, predicted):
                    if label == prediction:
                        correct_pred[classes[label]] += 1
                    total_pred[classes[label]] += 1
        out.append(100 * correct // total)
        out += [correct_pred[c] for c in classes] + [total_pred[c] for c in classes]
        return out
