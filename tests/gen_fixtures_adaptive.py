#!/usr/bin/python3
"""Writes tests/fixtures/adaptive_tiny.h5: a PyTorch reference for the adaptive softmax head.

Run once with Debian's python3-torch and python3-h5py:
    /usr/bin/python3 tests/gen_fixtures_adaptive.py
`make check` never runs this; tests/test_torch.c reads the committed file.

The module is torch.nn.AdaptiveLogSoftmaxWithLoss(in_features=D, n_classes=V, cutoffs,
div_value, head_bias=True), lstmlm's --softmax adaptive (src/nn/adaptive.c):
  - parameters under lstmlm's names (PyTorch's in brackets), nn.Linear layout (out, in):
    head.weight (head.weight, (cutoffs[0] + K, D)), head.bias (head.bias),
    head.tail.{i}.proj.weight (tail.{i}.0.weight, (D // div^(i+1), D)),
    head.tail.{i}.out.weight (tail.{i}.1.weight, (cluster size, D // div^(i+1)));
  - x (N, D) inputs and y (N) targets in the shortlist and in every tail cluster;
  - log_prob (N, V): the module's log_prob(x), every id of every row; output (N): forward's
    per-row log-probability of the target; loss: forward's loss, the mean -log p over the rows;
  - grads/NAME and grads/x: the gradients of that mean loss. lstmlm's kernel sums -log p over
    the rows with its gradients scaled by `scale`; the test runs it with scale 1/N.
Weights and inputs are drawn in float64 and rounded to float32 before the forward, which runs
in float64 on exactly the stored values; results are stored as float32 (loss float64).
"""
import os

import h5py
import numpy as np
import torch

torch.manual_seed(17)
torch.set_default_dtype(torch.float64)
D, V, N, DIV = 8, 30, 12, 2.0
CUTOFFS = [6, 14, 22]
K = len(CUTOFFS)

asm = torch.nn.AdaptiveLogSoftmaxWithLoss(D, V, CUTOFFS, div_value=DIV, head_bias=True)
with torch.no_grad():
    for p in asm.parameters():
        p.uniform_(-0.7, 0.7)
        p.copy_(p.float().double())

names = {'head.weight': asm.head.weight, 'head.bias': asm.head.bias}
for i in range(K):
    names['head.tail.%d.proj.weight' % i] = asm.tail[i][0].weight
    names['head.tail.%d.out.weight' % i] = asm.tail[i][1].weight

x = (torch.rand(N, D) * 2 - 1).float().double().requires_grad_(True)
# Two rows in the shortlist (one of them <unk>, id 0), the others spread over the clusters,
# the first and last id of each included.
y = torch.tensor([0, 3, 6, 13, 14, 21, 22, 29, 5, 9, 17, 25])
assert len(y) == N

out = asm(x, y)
out.loss.backward()
with torch.no_grad():
    log_prob = asm.log_prob(x)
assert torch.allclose(log_prob.gather(1, y.unsqueeze(1)).squeeze(1), out.output)

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'adaptive_tiny.h5')
os.makedirs(os.path.dirname(path), exist_ok=True)
with h5py.File(path, 'w') as f:
    for k, val in dict(D=D, V=V, N=N, K=K).items():
        f.attrs[k] = val
    f.attrs['div_value'] = DIV
    f.attrs['cutoffs'] = np.array(CUTOFFS, dtype=np.uint64)
    f.attrs['made_by'] = 'tests/gen_fixtures_adaptive.py, torch ' + torch.__version__
    f['x'] = x.detach().numpy().astype(np.float32)
    f['y'] = y.numpy().astype(np.int32)
    f['log_prob'] = log_prob.numpy().astype(np.float32)
    f['output'] = out.output.detach().numpy().astype(np.float32)
    f['loss'] = np.float64(out.loss.item())
    f['grads/x'] = x.grad.numpy().astype(np.float32)
    for n, p in names.items():
        f['params/' + n] = p.detach().numpy().astype(np.float32)
        f['grads/' + n] = p.grad.numpy().astype(np.float32)
print('wrote', path)
