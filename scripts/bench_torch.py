"""PyTorch, one thread, training the bench models of scripts/bench-models.ts (same shapes, Adam,
batch 128, random data), one timed round at a time: `pnpm bench:trainer` (where torch can be
imported: .venv-torch, made by the tests' bootstrap) keeps this process and alternates its rounds
with lrsweep's, so both see the same machine. Each stdin line `<model> <seconds>` answers one JSON
line: samples per second and per CPU-second over a round of at least that long (and 3 updates)."""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.set_num_interop_threads(1)
torch.manual_seed(0)
BATCH = 128


class Block(nn.Module):
    """Pre-norm transformer block: multi-head attention, then a GELU (tanh form) MLP."""

    def __init__(self, d, heads, ratio, causal):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d, d * ratio), nn.GELU(approximate="tanh"), nn.Linear(d * ratio, d))
        self.causal = causal

    def forward(self, x):
        n = x.shape[1]
        mask = torch.triu(torch.full((n, n), float("-inf")), 1) if self.causal else None
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class ViT(nn.Module):
    def __init__(self, ps=7, d=64, depth=2, heads=4, ratio=2):
        super().__init__()
        self.ps, n = ps, (28 // ps) ** 2
        self.embed, self.pos = nn.Linear(ps * ps, d), nn.Parameter(torch.zeros(1, n, d))
        self.blocks = nn.Sequential(*[Block(d, heads, ratio, False) for _ in range(depth)])
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, 10)

    def forward(self, x):
        b, ps = x.shape[0], self.ps
        p = x.reshape(b, 28 // ps, ps, 28 // ps, ps).permute(0, 1, 3, 2, 4).reshape(b, -1, ps * ps)
        return self.head(self.ln(self.blocks(self.embed(p) + self.pos)).mean(1))


class GPT(nn.Module):
    def __init__(self, n=64, d=64, depth=2, heads=4, ratio=4):
        super().__init__()
        self.tok, self.pos = nn.Embedding(256, d), nn.Parameter(torch.zeros(1, n, d))
        self.blocks = nn.Sequential(*[Block(d, heads, ratio, True) for _ in range(depth)])
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, 256)

    def forward(self, x):
        return self.head(self.ln(self.blocks(self.tok(x) + self.pos)))


def cnn():
    layers, cin = [], 3
    for cout in (32, 64):
        layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10))


models = {
    "mlp": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)), lambda: torch.rand(BATCH, 1, 28, 28)),
    "lenet": (
        lambda: nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2),
            nn.Flatten(), nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10)),
        lambda: torch.rand(BATCH, 1, 28, 28),
    ),
    "cnn": (cnn, lambda: torch.rand(BATCH, 3, 32, 32)),
    "vit": (ViT, lambda: torch.rand(BATCH, 1, 28, 28)),
    "gpt": (GPT, lambda: torch.randint(0, 256, (BATCH, 64))),
}

def trainer(name):
    """One update of `name`'s model on a fixed batch, after 3 warm-up updates."""
    make, batch = models[name]
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = batch()
    y = torch.randint(0, 256, (BATCH, 64)) if name == "gpt" else torch.arange(BATCH) % 10

    def step():
        opt.zero_grad()
        out = model(x)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    return step


steps = {}
for line in sys.stdin:
    name, seconds = line.split()
    if name not in models:
        print(json.dumps({"error": f"unknown model {name}"}), flush=True)
        continue
    step = steps.get(name) or steps.setdefault(name, trainer(name))
    t, c, n = time.perf_counter(), time.process_time(), 0
    while n < 3 or time.perf_counter() - t < float(seconds):
        step()
        n += 1
    wall, cpu = time.perf_counter() - t, max(time.process_time() - c, 1e-9)
    print(json.dumps({"model": name, "samplesPerSec": n * BATCH / wall, "samplesPerCpuSec": n * BATCH / cpu, "torch": torch.__version__}), flush=True)
