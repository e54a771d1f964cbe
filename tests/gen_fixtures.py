#!/usr/bin/python3
"""Writes tests/fixtures/lstm_tiny.h5: a PyTorch reference for a tiny 2-layer LSTM language model.

Run once with Debian's python3-torch and python3-h5py:  /usr/bin/python3 tests/gen_fixtures.py
`make check` never runs this; tests/test_torch.c reads the committed file.

Conventions shared with lstmlm (see lm_model_window and the trainer):
  - modules embedding -> nn.LSTM (gates i|f|g|o) -> linear head, parameter names as PyTorch's
    state_dict: embedding.weight, lstm.weight_ih_l0, ..., head.weight, head.bias;
  - inputs are time-major (T, B); the loss whose gradients are stored is the Zaremba et al.
    normalisation: sum over the window's tokens of -log p, divided by B;
  - 'loss' is the mean -log p per token;
  - an Adam step (lr 1e-3, betas 0.9/0.999, eps 1e-8, no clipping) from the same gradients;
  - five SGD steps (lr 0.5, global-norm clip 0.25) of the trainer's loop over a token stream cut
    into B streams read T steps at a time with the state carried (losses per window).
"""
import os

import h5py
import numpy as np
import torch

torch.manual_seed(7)
torch.set_default_dtype(torch.float64)
V, E, H, L, T, B = 11, 5, 6, 2, 4, 2


class LM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(V, E)
        self.lstm = torch.nn.LSTM(E, H, L)
        self.head = torch.nn.Linear(H, V)

    def forward(self, x, state):
        y, state = self.lstm(self.embedding(x), state)
        return self.head(y), state


def init(model):
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.5, 0.5)


model = LM()
init(model)
names = [n for n, _ in model.named_parameters()]
params0 = {n: p.detach().clone() for n, p in model.named_parameters()}

x = torch.randint(0, V, (T, B))
y = torch.randint(0, V, (T, B))
h0 = torch.rand(L, B, H) - 0.5
c0 = torch.rand(L, B, H) - 0.5

logits, (h1, c1) = model(x, (h0, c0))
nll = torch.nn.functional.cross_entropy(logits.reshape(T * B, V), y.reshape(T * B),
                                        reduction='sum')
(nll / B).backward()
grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}

# One Adam step from these gradients.
opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
opt.step()
adam = {n: p.detach().clone() for n, p in model.named_parameters()}

# Five SGD steps of the training loop over a stream, from the initial parameters.
with torch.no_grad():
    for n, p in model.named_parameters():
        p.copy_(params0[n])
stream = torch.randint(0, V, (B * (5 * T + 1),))
per = stream.numel() // B
data = stream[:per * B].reshape(B, per).t()  # (per, B): column b is stream b
state = (torch.zeros(L, B, H), torch.zeros(L, B, H))
losses = []
for k in range(5):
    inp, tgt = data[k * T:(k + 1) * T], data[k * T + 1:(k + 1) * T + 1]
    model.zero_grad()
    out, state = model(inp, state)
    state = (state[0].detach(), state[1].detach())
    s = torch.nn.functional.cross_entropy(out.reshape(-1, V), tgt.reshape(-1), reduction='sum')
    (s / B).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.5 * p.grad
    losses.append(s.item() / (T * B))

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'lstm_tiny.h5')
os.makedirs(os.path.dirname(out), exist_ok=True)
with h5py.File(out, 'w') as f:
    f.attrs['V'], f.attrs['E'], f.attrs['H'], f.attrs['L'], f.attrs['T'], f.attrs['B'] = \
        V, E, H, L, T, B
    f.attrs['made_by'] = 'tests/gen_fixtures.py, torch ' + torch.__version__
    f['x'] = x.numpy().astype(np.int32)
    f['y'] = y.numpy().astype(np.int32)
    f['h0'] = h0.numpy().astype(np.float32)
    f['c0'] = c0.numpy().astype(np.float32)
    f['h1'] = h1.detach().numpy().astype(np.float32)
    f['c1'] = c1.detach().numpy().astype(np.float32)
    f['logits'] = logits.detach().numpy().astype(np.float32)
    f['loss'] = np.float64(nll.item() / (T * B))
    for n in names:
        f['params/' + n] = params0[n].numpy().astype(np.float32)
        f['grads/' + n] = grads[n].numpy().astype(np.float32)
        f['adam/' + n] = adam[n].numpy().astype(np.float32)
    f['stream'] = stream.numpy().astype(np.int32)
    f['sgd_losses'] = np.array(losses)
print('wrote', out)
