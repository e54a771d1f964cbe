#!/usr/bin/python3
"""Writes tests/fixtures/rwkv_tiny.h5: a PyTorch reference for a tiny 2-layer RWKV-4 language model.

Run once with Debian's python3-torch and python3-h5py:  /usr/bin/python3 tests/gen_fixtures_rwkv.py
`make check` never runs this; tests/test_rwkv.c reads the committed file.

The model is written in the straightforward (non-log-space) form of the RWKV-4 recurrence, in
float64, so it checks lstmlm's stable running-maximum form and its hand-written backward:
    h = LN0(emb[x]);  per layer: h += TimeMix(LN1(h)); h += ChannelMix(LN2(h));  logits = head(LN_out(h))
    TimeMix:  xk = x*mu_k + sx*(1-mu_k) (same for v, r), sx = x shifted by one step (row 0 from the state)
              r = sigmoid(Wr xr), k = Wk xk, v = Wv xv, w = -exp(time_decay), u = time_first
              wkv_t = (A + e^(u+k_t) v_t) / (B + e^(u+k_t));  A = e^w A + e^k_t v_t;  B = e^w B + e^k_t
              out = Wo (r * wkv)
    ChannelMix: out = sigmoid(Wr' xr) * (Wv' relu(Wk' xk)^2)
Parameter names and layouts are lstmlm's (RWKV-LM's state_dict with the (1,1,d) time_mix tensors
as vectors): blocks.0.ln0.weight, blocks.{i}.att.key.weight (d, d), blocks.{i}.ffn.key.weight (F, d), ...

Two windows over B streams: the first (x0) from the empty state (A = B = 0, token shifts 0; in
lstmlm pp = -1e30) without gradients makes a carried state; the second (x, y) is the one checked:
logits, loss, every gradient, and the final state. Conventions shared with lstmlm:
  - inputs are time-major (T, B);
  - the loss whose gradients are stored is the sum over the window's tokens of -log p divided
    by B, i.e. lm_model_window with scale 1/B; 'loss' is the mean -log p per token;
  - the carried state is a constant: no gradient flows into it (truncated BPTT);
  - final state: att_xx, ffn_xx (L, B, d) and the plain sums A, B (L, B, d) (lstmlm keeps
    aa, bb, pp with A = aa e^pp).
"""
import os

import h5py
import numpy as np
import torch

torch.manual_seed(11)
torch.set_default_dtype(torch.float64)
V, D, F, L, T, B = 11, 6, 10, 2, 4, 2
EPS = 1e-5


def u(shape, lo, hi):
    return torch.rand(*shape) * (hi - lo) + lo


def make_params():
    p = {'embedding.weight': u((V, D), -1, 1),
         'blocks.0.ln0.weight': u((D,), 0.7, 1.3), 'blocks.0.ln0.bias': u((D,), -0.2, 0.2)}
    for i in range(L):
        b = 'blocks.%d.' % i
        p[b + 'ln1.weight'] = u((D,), 0.7, 1.3)
        p[b + 'ln1.bias'] = u((D,), -0.2, 0.2)
        p[b + 'ln2.weight'] = u((D,), 0.7, 1.3)
        p[b + 'ln2.bias'] = u((D,), -0.2, 0.2)
        p[b + 'att.time_decay'] = u((D,), -2, 1.5)
        p[b + 'att.time_first'] = u((D,), -1, 1)
        p[b + 'att.time_mix_k'] = u((D,), 0, 1)
        p[b + 'att.time_mix_v'] = u((D,), 0, 1)
        p[b + 'att.time_mix_r'] = u((D,), 0, 1)
        p[b + 'att.key.weight'] = u((D, D), -0.8, 0.8)
        p[b + 'att.value.weight'] = u((D, D), -0.8, 0.8)
        p[b + 'att.receptance.weight'] = u((D, D), -0.8, 0.8)
        p[b + 'att.output.weight'] = u((D, D), -0.8, 0.8)
        p[b + 'ffn.time_mix_k'] = u((D,), 0, 1)
        p[b + 'ffn.time_mix_r'] = u((D,), 0, 1)
        p[b + 'ffn.key.weight'] = u((F, D), -0.8, 0.8)
        p[b + 'ffn.receptance.weight'] = u((D, D), -0.8, 0.8)
        p[b + 'ffn.value.weight'] = u((D, F), -0.8, 0.8)
    p['ln_out.weight'] = u((D,), 0.7, 1.3)
    p['ln_out.bias'] = u((D,), -0.2, 0.2)
    p['head.weight'] = u((V, D), -0.8, 0.8)
    p['head.bias'] = u((V,), -0.2, 0.2)
    for t in p.values():
        t.requires_grad_(True)
    return p


def ln(x, p, name):
    return torch.nn.functional.layer_norm(x, (D,), p[name + '.weight'], p[name + '.bias'], EPS)


def shift(x, xx):
    """x (T, B, D) shifted by one step, row 0 from the carried xx (B, D)."""
    return torch.cat([xx[None], x[:-1]], 0)


def forward(p, ids, state):
    """ids (T, B); state: per layer (att_xx, A, B, ffn_xx), each (B, D). Returns logits, state."""
    h = ln(p['embedding.weight'][ids], p, 'blocks.0.ln0')
    new = []
    for i in range(L):
        b = 'blocks.%d.' % i
        att_xx, A, Bs, ffn_xx = state[i]
        x = ln(h, p, b + 'ln1')
        sx = shift(x, att_xx)
        mk, mv, mr = p[b + 'att.time_mix_k'], p[b + 'att.time_mix_v'], p[b + 'att.time_mix_r']
        k = (x * mk + sx * (1 - mk)) @ p[b + 'att.key.weight'].t()
        v = (x * mv + sx * (1 - mv)) @ p[b + 'att.value.weight'].t()
        r = torch.sigmoid((x * mr + sx * (1 - mr)) @ p[b + 'att.receptance.weight'].t())
        w = -torch.exp(p[b + 'att.time_decay'])
        uu = p[b + 'att.time_first']
        outs = []
        for t in range(ids.shape[0]):
            e = torch.exp(uu + k[t])
            outs.append((A + e * v[t]) / (Bs + e))
            A = torch.exp(w) * A + torch.exp(k[t]) * v[t]
            Bs = torch.exp(w) * Bs + torch.exp(k[t])
        wkv = torch.stack(outs)
        h = h + (r * wkv) @ p[b + 'att.output.weight'].t()
        xf = ln(h, p, b + 'ln2')
        sf = shift(xf, ffn_xx)
        fk, fr = p[b + 'ffn.time_mix_k'], p[b + 'ffn.time_mix_r']
        kk = torch.relu((xf * fk + sf * (1 - fk)) @ p[b + 'ffn.key.weight'].t()) ** 2
        rr = torch.sigmoid((xf * fr + sf * (1 - fr)) @ p[b + 'ffn.receptance.weight'].t())
        h = h + rr * (kk @ p[b + 'ffn.value.weight'].t())
        new.append((x[-1], A, Bs, xf[-1]))
    h = ln(h, p, 'ln_out')
    return h @ p['head.weight'].t() + p['head.bias'], new


params = make_params()
names = list(params.keys())
x0 = torch.randint(0, V, (T, B))
x = torch.randint(0, V, (T, B))
y = torch.randint(0, V, (T, B))
empty = [tuple(torch.zeros(B, D) for _ in range(4)) for _ in range(L)]
with torch.no_grad():
    _, state = forward(params, x0, empty)
state = [tuple(s.detach() for s in layer) for layer in state]
logits, state1 = forward(params, x, state)
nll = torch.nn.functional.cross_entropy(logits.reshape(T * B, V), y.reshape(T * B),
                                        reduction='sum')
(nll / B).backward()

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'rwkv_tiny.h5')
os.makedirs(os.path.dirname(out), exist_ok=True)
with h5py.File(out, 'w') as f:
    for k, val in (('V', V), ('D', D), ('F', F), ('L', L), ('T', T), ('B', B)):
        f.attrs[k] = val
    f.attrs['made_by'] = 'tests/gen_fixtures_rwkv.py, torch ' + torch.__version__
    f['x0'] = x0.numpy().astype(np.int32)
    f['x'] = x.numpy().astype(np.int32)
    f['y'] = y.numpy().astype(np.int32)
    f['logits'] = logits.detach().numpy().astype(np.float32)
    f['loss'] = np.float64(nll.item() / (T * B))
    for j, key in enumerate(('att_xx', 'A', 'B', 'ffn_xx')):
        f['state1/' + key] = np.stack([s[j].detach().numpy() for s in state1]).astype(np.float32)
    for n in names:
        f['params/' + n] = params[n].detach().numpy().astype(np.float32)
        f['grads/' + n] = params[n].grad.numpy().astype(np.float32)
print('wrote', out)
