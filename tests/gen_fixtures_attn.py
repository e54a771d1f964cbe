#!/usr/bin/python3
"""Writes tests/fixtures/attn_tiny.h5: a PyTorch reference for a tiny transformer language model.

Run once with Debian's python3-torch and python3-h5py:  /usr/bin/python3 tests/gen_fixtures_attn.py
`make check` never runs this; tests/test_attention.c reads the committed file.

The model is lstmlm's `--arch transformer` (src/nn/attention.c, src/model/arch_transformer.c):
  - embedding -> + learned position embedding -> L pre-LayerNorm decoder blocks -> ln_f -> head;
  - block: x += attn.proj(causal multi-head attention(ln1(x)));  x += mlp.proj(gelu(mlp.fc(ln2(x))))
    with the tanh approximation of GELU (GPT-2), LayerNorm eps 1e-5, scores scaled by
    1/sqrt(head dim), attn.qkv.weight (3E, E) with rows q|k|v and head h on columns h*E/H..;
  - parameter names and layouts as lstmlm's model file (nn.Linear layout (out, in)):
    embedding.weight, pos_embedding.weight, blocks.{l}.ln1.weight/bias, blocks.{l}.attn.qkv.weight/
    bias, blocks.{l}.attn.proj.weight/bias, blocks.{l}.ln2.weight/bias, blocks.{l}.mlp.fc.weight/
    bias, blocks.{l}.mlp.proj.weight/bias, ln_f.weight/bias, head.weight, head.bias;
  - inputs are time-major (T, B), positions 0..T-1 in every window (T <= context);
  - the loss whose gradients are stored is lm_model_window's with scale 1/B: the sum over the
    window's tokens of -log p, divided by B; 'loss' is the mean -log p per token.
Computed in float64, stored as float32.
"""
import math
import os

import h5py
import numpy as np
import torch

torch.manual_seed(11)
torch.set_default_dtype(torch.float64)
V, E, H, L, F, C, T, B = 11, 8, 2, 2, 12, 6, 5, 2


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = torch.nn.Linear(E, 3 * E)
        self.proj = torch.nn.Linear(E, E)

    def forward(self, x):  # x: (B, T, E)
        b, t, _ = x.shape
        q, k, v = self.qkv(x).split(E, dim=2)
        q, k, v = (z.view(b, t, H, E // H).transpose(1, 2) for z in (q, k, v))  # (B, H, T, hd)
        s = q @ k.transpose(-2, -1) / math.sqrt(E // H)
        mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
        s = s.masked_fill(~mask, float('-inf'))
        y = torch.softmax(s, dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, E))


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(E, F)
        self.proj = torch.nn.Linear(F, E)

    def forward(self, x):
        return self.proj(torch.nn.functional.gelu(self.fc(x), approximate='tanh'))


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = torch.nn.LayerNorm(E, eps=1e-5)
        self.attn = Attention()
        self.ln2 = torch.nn.LayerNorm(E, eps=1e-5)
        self.mlp = MLP()

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class LM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(V, E)
        self.pos_embedding = torch.nn.Embedding(C, E)
        self.blocks = torch.nn.ModuleList([Block() for _ in range(L)])
        self.ln_f = torch.nn.LayerNorm(E, eps=1e-5)
        self.head = torch.nn.Linear(E, V)

    def forward(self, x):  # x: (T, B) time-major
        t = x.shape[0]
        h = self.embedding(x) + self.pos_embedding.weight[:t].unsqueeze(1)  # (T, B, E)
        h = h.transpose(0, 1)  # (B, T, E)
        for blk in self.blocks:
            h = blk(h)
        return self.head(self.ln_f(h)).transpose(0, 1)  # (T, B, V)


model = LM()
with torch.no_grad():
    for n, p in model.named_parameters():
        p.uniform_(-0.5, 0.5)
        if n.endswith('ln1.weight') or n.endswith('ln2.weight') or n == 'ln_f.weight':
            p.add_(1.0)
names = [n for n, _ in model.named_parameters()]
x = torch.randint(0, V, (T, B))
y = torch.randint(0, V, (T, B))
logits = model(x)
nll = torch.nn.functional.cross_entropy(logits.reshape(T * B, V), y.reshape(T * B),
                                        reduction='sum')
(nll / B).backward()

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'attn_tiny.h5')
os.makedirs(os.path.dirname(out), exist_ok=True)
with h5py.File(out, 'w') as f:
    for k, val in dict(V=V, E=E, H=H, L=L, F=F, C=C, T=T, B=B).items():
        f.attrs[k] = val
    f.attrs['made_by'] = 'tests/gen_fixtures_attn.py, torch ' + torch.__version__
    f['x'] = x.numpy().astype(np.int32)
    f['y'] = y.numpy().astype(np.int32)
    f['logits'] = logits.detach().numpy().astype(np.float32)
    f['loss'] = np.float64(nll.item() / (T * B))
    for n, p in model.named_parameters():
        f['params/' + n] = p.detach().numpy().astype(np.float32)
        f['grads/' + n] = p.grad.numpy().astype(np.float32)
print('wrote', out)
