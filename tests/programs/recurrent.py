"""Recurrent program shapes: word_language_model with an LSTM, time_sequence_prediction
(LSTMCell + LBFGS), mnist_rnn (an LSTM classifier) and the char-RNN name classifier. They
need nn.LSTM / nn.LSTMCell / nn.RNN / optim.LBFGS and run once those exist (issue 13)."""

import numpy as np

from . import Program, accelerator_device
from .text import _corpus


class WordLMLSTM(Program):
    """word_language_model with --model LSTM: Embedding, LSTM, Linear decoder with tied
    weights, ``init_hidden`` through ``weight.new_zeros``, ``repackage_hidden`` between
    batches, clip_grad_norm_ and the manual SGD update."""

    name = "word_language_model_lstm"
    needs = ("nn.LSTM",)
    ntokens, bptt, bsz = 13, 5, 3

    def data(self, rng):
        return {"train": _corpus(rng, 64, self.ntokens)}

    def build(self, torch):
        nn = torch.nn

        class RNNModel(nn.Module):
            def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5,
                         tie_weights=False):
                super(RNNModel, self).__init__()
                self.ntoken = ntoken
                self.drop = nn.Dropout(dropout)
                self.encoder = nn.Embedding(ntoken, ninp)
                self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
                self.decoder = nn.Linear(nhid, ntoken)
                if tie_weights:
                    self.decoder.weight = self.encoder.weight
                self.init_weights()
                self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers

            def init_weights(self):
                initrange = 0.1
                nn.init.uniform_(self.encoder.weight, -initrange, initrange)
                nn.init.zeros_(self.decoder.bias)
                nn.init.uniform_(self.decoder.weight, -initrange, initrange)

            def forward(self, input, hidden):
                emb = self.drop(self.encoder(input))
                output, hidden = self.rnn(emb, hidden)
                output = self.drop(output)
                decoded = self.decoder(output).view(-1, self.ntoken)
                return torch.nn.functional.log_softmax(decoded, dim=1), hidden

            def init_hidden(self, bsz):
                weight = next(self.parameters())
                return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                        weight.new_zeros(self.nlayers, bsz, self.nhid))

        model = RNNModel("LSTM", self.ntokens, 8, 8, 2, 0.2, tie_weights=True)
        return {"model": model.to(accelerator_device(torch))}

    def train(self, torch, parts, data, workdir):
        device = accelerator_device(torch)
        model, bptt = parts["model"], self.bptt

        def repackage_hidden(h):
            if isinstance(h, torch.Tensor):
                return h.detach()
            return tuple(repackage_hidden(v) for v in h)

        stream = torch.tensor(data["train"])
        nbatch = stream.size(0) // self.bsz
        train_data = stream.narrow(0, 0, nbatch * self.bsz).view(self.bsz, -1).t()
        train_data = train_data.contiguous().to(device)
        criterion = torch.nn.NLLLoss()
        lr, out = 5.0, []
        model.train()
        hidden = model.init_hidden(self.bsz)
        for i in range(0, train_data.size(0) - 1, bptt):
            seq_len = min(bptt, len(train_data) - 1 - i)
            data_, targets = train_data[i:i + seq_len], train_data[i + 1:i + 1 + seq_len]
            model.zero_grad()
            hidden = repackage_hidden(hidden)
            output, hidden = model(data_, hidden)
            loss = criterion(output, targets.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
            out.append(loss.item())
        return out


class TimeSequenceLBFGS(Program):
    """time_sequence_prediction: two LSTMCells and a Linear unrolled over a sine wave (with
    ``future`` steps fed back), MSELoss, LBFGS with a closure. float32 here: the original
    runs in float64, which wgtorch does not have."""

    name = "time_sequence_lstmcell_lbfgs"
    needs = ("nn.LSTMCell", "optim.LBFGS")
    rtol, atol = 1e-3, 1e-4

    def data(self, rng):
        t = np.arange(12) + rng.integers(-4, 4, (4, 1))
        return {"wave": np.sin(t / 2.0).astype(np.float32)}

    def build(self, torch):
        nn = torch.nn

        class Sequence(nn.Module):
            def __init__(self):
                super(Sequence, self).__init__()
                self.lstm1 = nn.LSTMCell(1, 8)
                self.lstm2 = nn.LSTMCell(8, 8)
                self.linear = nn.Linear(8, 1)

            def forward(self, input, future=0):
                outputs = []
                h_t = torch.zeros(input.size(0), 8, dtype=torch.float, device=input.device)
                c_t = torch.zeros(input.size(0), 8, dtype=torch.float, device=input.device)
                h_t2 = torch.zeros(input.size(0), 8, dtype=torch.float, device=input.device)
                c_t2 = torch.zeros(input.size(0), 8, dtype=torch.float, device=input.device)
                for input_t in input.split(1, dim=1):
                    h_t, c_t = self.lstm1(input_t, (h_t, c_t))
                    h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                    output = self.linear(h_t2)
                    outputs += [output]
                for i in range(future):
                    h_t, c_t = self.lstm1(output, (h_t, c_t))
                    h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                    output = self.linear(h_t2)
                    outputs += [output]
                return torch.cat(outputs, dim=1)

        return {"seq": Sequence().to(accelerator_device(torch))}

    def train(self, torch, parts, data, workdir):
        device = accelerator_device(torch)
        seq = parts["seq"]
        wave = torch.from_numpy(data["wave"]).to(device)
        input, target = wave[1:, :-1], wave[1:, 1:]
        test_input, test_target = wave[:1, :-1], wave[:1, 1:]
        criterion = torch.nn.MSELoss()
        optimizer = torch.optim.LBFGS(seq.parameters(), lr=0.8)
        out = []
        for i in range(2):
            def closure():
                optimizer.zero_grad()
                loss = criterion(seq(input), target)
                loss.backward()
                return loss

            out.append(optimizer.step(closure).item())
            with torch.no_grad():
                future = 5
                pred = seq(test_input, future=future)
                out.append(criterion(pred[:, :-future], test_target).item())
        return out


class MnistRNN(Program):
    """examples/mnist_rnn: an LSTM over image rows (batch_first), the last step through
    BatchNorm1d, Dropout2d and two linears; Adadelta with StepLR."""

    name = "mnist_rnn_lstm_classifier"
    needs = ("nn.LSTM",)

    def data(self, rng):
        return {"x": rng.uniform(0, 1, (8, 1, 8, 8)).astype(np.float32),
                "y": rng.integers(0, 10, 8)}

    def build(self, torch):
        nn, F = torch.nn, torch.nn.functional

        class Net(nn.Module):
            def __init__(self):
                super(Net, self).__init__()
                self.rnn = nn.LSTM(input_size=8, hidden_size=16, batch_first=True)
                self.batchnorm = nn.BatchNorm1d(16)
                self.dropout1 = nn.Dropout2d(0.25)
                self.dropout2 = nn.Dropout2d(0.5)
                self.fc1 = nn.Linear(16, 12)
                self.fc2 = nn.Linear(12, 10)

            def forward(self, input):
                input = input.reshape(-1, 8, 8)
                output, hidden = self.rnn(input)
                output = output[:, -1, :]
                output = self.dropout1(self.batchnorm(output))
                output = self.dropout2(F.relu(self.fc1(output)))
                return F.log_softmax(self.fc2(output), dim=1)

        return {"model": Net().to(accelerator_device(torch))}

    def train(self, torch, parts, data, workdir):
        device = accelerator_device(torch)
        model = parts["model"]
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(
            torch.tensor(data["x"]), torch.tensor(data["y"])), batch_size=4)
        optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
        out = []
        for epoch in range(2):
            model.train()
            for data_, target in loader:
                data_, target = data_.to(device), target.to(device)
                optimizer.zero_grad()
                loss = torch.nn.functional.nll_loss(model(data_), target)
                loss.backward()
                optimizer.step()
                out.append(loss.item())
            scheduler.step()
        return out


class CharRNN(Program):
    """The char-RNN name classification tutorial: one-hot letters built by chained
    ``tensor[li][0][index] = 1``, nn.RNN, the last hidden state through a Linear and
    LogSoftmax, NLLLoss summed over a minibatch, clip_grad_norm_, SGD; topk for the label."""

    name = "char_rnn_classification"
    needs = ("nn.RNN",)
    letters = "abcdefghij"

    def data(self, rng):
        names = ["".join(rng.choice(list(self.letters), rng.integers(2, 6))) for _ in range(8)]
        return {"names": names, "labels": rng.integers(0, 3, 8)}

    def build(self, torch):
        nn = torch.nn

        class CharRNN(nn.Module):
            def __init__(self, input_size, hidden_size, output_size):
                super(CharRNN, self).__init__()
                self.rnn = nn.RNN(input_size, hidden_size)
                self.h2o = nn.Linear(hidden_size, output_size)
                self.softmax = nn.LogSoftmax(dim=1)

            def forward(self, line_tensor):
                rnn_out, hidden = self.rnn(line_tensor)
                return self.softmax(self.h2o(hidden[0]))

        return {"rnn": CharRNN(len(self.letters), 12, 3).to(accelerator_device(torch))}

    def train(self, torch, parts, data, workdir):
        device = accelerator_device(torch)
        rnn, letters = parts["rnn"], self.letters

        def line_to_tensor(line):
            tensor = torch.zeros(len(line), 1, len(letters))
            for li, letter in enumerate(line):
                tensor[li][0][letters.find(letter)] = 1
            return tensor

        training_data = [(torch.tensor([int(label)], dtype=torch.long).to(device),
                          line_to_tensor(name).to(device))
                         for name, label in zip(data["names"], data["labels"])]
        criterion = torch.nn.NLLLoss()
        optimizer = torch.optim.SGD(rnn.parameters(), lr=0.15)
        out = []
        rnn.train()
        for batch in ([0, 1, 2, 3], [4, 5, 6, 7]):
            rnn.zero_grad()
            batch_loss = 0
            for i in batch:
                label_tensor, text_tensor = training_data[i]
                batch_loss += criterion(rnn.forward(text_tensor), label_tensor)
            batch_loss.backward()
            torch.nn.utils.clip_grad_norm_(rnn.parameters(), 3)
            optimizer.step()
            optimizer.zero_grad()
            out.append(batch_loss.item() / len(batch))
        top_n, top_i = rnn(training_data[0][1]).topk(1)
        out.append(top_i[0].item())
        return out
