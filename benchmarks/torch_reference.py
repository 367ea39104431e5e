"""A plain PyTorch DCGAN training step: the reference that `train_throughput.py --torch-python`
compares the project's step with.

    python benchmarks/torch_reference.py --size 64 --channels 3 --width 64 --batch 128

The network is the project's (`dcgan_tf.training.models`) written in PyTorch: G projects z with
one linear layer to 4x4x(8 ngf), then 4x4 stride-2 transposed convolutions with batch norm and
ReLU up to the image (tanh); D mirrors it with stride-2 convolutions, LeakyReLU 0.2, batch norm
after the first block, and one linear logit. One step is the DCGAN tutorial's: D on real and on
G's (detached) batch, Adam; then D on the same fake batch for G's non-saturating loss, Adam (lr
2e-4, beta1 0.5). Runs without TensorFlow, so it needs only `torch` (not a project dependency:
`pip install torch --index-url https://download.pytorch.org/whl/cpu`).

Ends with `torch_img/s=<N>` for the fastest memory format tried. With `--serve FORMAT` it
builds one step instead and times windows on request: each line `N` on stdin runs N steps and
answers their seconds (`common.TorchServer`, for benchmarks that alternate windows with ours).
"""

import argparse
import os
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import add_step_flags  # noqa: E402


def _widths(size, width):
    """Channel widths of G's 4x4 block up to the last hidden block, as the project builds them."""
    blocks = size.bit_length() - 3  # 32 -> 3 blocks (4, 8, 16), 64 -> 4
    return [width * 2 ** (blocks - 1 - i) for i in range(blocks)]


class Generator(nn.Module):
    def __init__(self, size, channels, width, z_dim):
        super().__init__()
        widths = _widths(size, width)
        self.first = widths[0]
        self.project = nn.Linear(z_dim, 16 * widths[0], bias=False)
        self.project_bn = nn.Sequential(nn.BatchNorm2d(widths[0]), nn.ReLU())
        layers = []
        for cin, cout in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z):
        x = self.project(z).view(-1, self.first, 4, 4)
        return self.body(self.project_bn(x))


class Discriminator(nn.Module):
    def __init__(self, size, channels, width):
        super().__init__()
        widths = _widths(size, width)[::-1]
        layers, cin = [], channels
        for i, cout in enumerate(widths):
            layers.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2))
            cin = cout
        self.body = nn.Sequential(*layers)
        self.logit = nn.Linear(16 * widths[-1], 1)

    def forward(self, x):
        return self.logit(torch.flatten(self.body(x), 1))


def time_step(size, channels, width, batch, steps, warmup, channels_last, bf16, z_dim=100):
    """Images/s of one DCGAN step on a batch held in memory: best of 3 windows of `steps`."""
    step = step_function(size, channels, width, batch, channels_last, bf16, z_dim)
    for _ in range(warmup):
        step()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, time.perf_counter() - start)
    return batch * steps / best


def step_function(size, channels, width, batch, channels_last, bf16, z_dim=100):
    """A callable running one DCGAN step (D then G) on a batch held in memory; returns D's
    loss as a float (which waits for the step)."""
    torch.manual_seed(0)
    g, d = Generator(size, channels, width, z_dim), Discriminator(size, channels, width)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    g, d = g.to(memory_format=fmt), d.to(memory_format=fmt)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loss = nn.BCEWithLogitsLoss()
    real = (torch.rand(batch, channels, size, size) * 2 - 1).to(memory_format=fmt)
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            fake = g(torch.rand(batch, z_dim) * 2 - 1)
            d_loss = loss(d(real).float(), ones) + loss(d(fake.detach()).float(), zeros)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            g_loss = loss(d(fake).float(), ones)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        return float(d_loss.detach())

    return step


def serve(a):
    """Answers each stdin line `N` with the seconds of N steps (after `--warmup` steps)."""
    step = step_function(a.size, a.channels, a.width, a.batch, a.serve == "channels_last", a.bf16)
    for _ in range(a.warmup):
        step()
    print(f"ready torch {torch.__version__} cpu {torch.backends.cpu.get_cpu_capability()}", flush=True)
    for line in sys.stdin:
        start = time.perf_counter()
        for _ in range(int(line)):
            step()
        print(time.perf_counter() - start, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_step_flags(p)
    p.add_argument("--bf16", action="store_true", help="autocast to bfloat16 (default fp32)")
    p.add_argument("--serve", choices=("NCHW", "channels_last"),
                   help="time windows of steps on request (lines `N` on stdin)")
    a = p.parse_args()
    if a.serve:
        serve(a)
        return

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, oneDNN "
          f"{torch.backends.mkldnn.is_available()}, {'bf16 autocast' if a.bf16 else 'fp32'}")
    rates = {}
    for label, channels_last in (("NCHW", False), ("channels_last", True)):
        rates[label] = time_step(a.size, a.channels, a.width, a.batch, a.steps, a.warmup,
                                 channels_last, a.bf16)
        print(f"torch {label:<14}{rates[label]:>10.1f} img/s")
    print(f"torch_img/s={max(rates.values()):.1f}")


if __name__ == "__main__":
    main()
