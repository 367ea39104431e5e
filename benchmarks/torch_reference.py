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

`--profile-layers` times each layer of G and D alone instead, named as the project's Keras
layers: the forward pass and the gradients of its input and weights, on a batch of its real
input shape, in both memory formats, every layer once per round (alternating the formats),
`--rounds` rounds, median; and the whole step once per round. With `--serve FORMAT` too, each
line `N` answers N such rounds as one JSON line `{layer: [seconds, ...], "step": [...]}`
(`common.TorchServer(profile_layers=True)`, for `step_profile.py --torch-python`).
"""

import argparse
import json
import os
import statistics
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


def named_layers(g, d):
    """`[(name, module)]`: G's and D's layers in call order, named as the project's Keras
    layers (`generator/deconv1`, `discriminator/conv1_bn`, ...)."""
    out = [("generator/project", g.project), ("generator/project_bn", g.project_bn[0]),
           ("generator/project_relu", g.project_bn[1])]
    block = 0
    for m in g.body:
        if isinstance(m, nn.ConvTranspose2d):
            block += 1
            last = m is g.body[-2]
            out.append(("generator/to_image" if last else f"generator/deconv{block}", m))
        elif isinstance(m, nn.BatchNorm2d):
            out.append((f"generator/deconv{block}_bn", m))
        elif isinstance(m, nn.ReLU):
            out.append((f"generator/deconv{block}_relu", m))
        else:
            out.append(("generator/tanh", m))
    block = -1
    for m in d.body:
        if isinstance(m, nn.Conv2d):
            block += 1
            out.append((f"discriminator/conv{block}", m))
        elif isinstance(m, nn.BatchNorm2d):
            out.append((f"discriminator/conv{block}_bn", m))
        else:
            out.append((f"discriminator/conv{block}_lrelu", m))
    return out + [("discriminator/logit", d.logit)]


def layer_timers(size, channels, width, batch, channels_last, z_dim=100):
    """`[(name, callable)]`: each layer's forward pass and the gradients of its input and
    weights (for an all-ones output gradient), on a random input of its shape in the memory
    format, then `("step", one whole DCGAN step)`."""
    torch.manual_seed(0)
    g, d = Generator(size, channels, width, z_dim), Discriminator(size, channels, width)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    g, d = g.to(memory_format=fmt), d.to(memory_format=fmt)
    layers = named_layers(g, d)
    shapes = {}

    def record(name):
        def hook(module, args):
            shapes[name] = tuple(args[0].shape)
        return hook

    hooks = [m.register_forward_pre_hook(record(name)) for name, m in layers]
    with torch.no_grad():
        d(g(torch.rand(batch, z_dim) * 2 - 1))
    for hook in hooks:
        hook.remove()
    timers = []
    for name, m in layers:
        x = torch.rand(shapes[name]) * 2 - 1
        if x.dim() == 4:
            x = x.contiguous(memory_format=fmt)
        x.requires_grad_(True)
        with torch.no_grad():
            dy = torch.ones_like(m(x))

        def run(m=m, x=x, dy=dy, sources=[x, *m.parameters()]):
            torch.autograd.grad(m(x), sources, dy)

        timers.append((name, run))
    return timers + [("step", step_function(size, channels, width, batch, channels_last, False,
                                            z_dim))]


def time_rounds(timers, rounds):
    """`{name: [seconds of each round]}`: every timer once per round, `rounds` rounds."""
    seconds = {name: [] for name, _ in timers}
    for _ in range(rounds):
        for name, fn in timers:
            start = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def profile_layers(a):
    """Prints each layer's median milliseconds in both memory formats, rounds alternating
    between the formats."""
    formats = {"channels_last": True, "NCHW": False}
    timers = {fmt: layer_timers(a.size, a.channels, a.width, a.batch, last)
              for fmt, last in formats.items()}
    for fmt in formats:
        time_rounds(timers[fmt], a.warmup)
    seconds = {fmt: {name: [] for name, _ in timers[fmt]} for fmt in formats}
    for _ in range(a.rounds):
        for fmt in formats:
            for name, s in time_rounds(timers[fmt], 1).items():
                seconds[fmt][name] += s
    ms = {fmt: {name: 1000 * statistics.median(s) for name, s in seconds[fmt].items()}
          for fmt in formats}
    print(f"\n{a.size}x{a.size}x{a.channels}, width {a.width}, batch {a.batch}, fp32: forward + "
          f"backward of each layer alone, median of {a.rounds} rounds\n")
    print("| layer | channels_last ms | NCHW ms |")
    print("|---|---|---|")
    for name in ms["NCHW"]:
        print(f"| {name} | {ms['channels_last'][name]:.2f} | {ms['NCHW'][name]:.2f} |")
    print("torch_layers_ms=" + json.dumps(ms), flush=True)


def serve(a):
    """Answers each stdin line `N` with the seconds of N steps (after `--warmup` steps), or
    with `--profile-layers` N rounds of each layer's seconds as one JSON line."""
    last = a.serve == "channels_last"
    if a.profile_layers:
        timers = layer_timers(a.size, a.channels, a.width, a.batch, last)
        time_rounds(timers, a.warmup)
    else:
        step = step_function(a.size, a.channels, a.width, a.batch, last, a.bf16)
        for _ in range(a.warmup):
            step()
    print(f"ready torch {torch.__version__} cpu {torch.backends.cpu.get_cpu_capability()}", flush=True)
    for line in sys.stdin:
        if a.profile_layers:
            print(json.dumps(time_rounds(timers, int(line))), flush=True)
            continue
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
    p.add_argument("--profile-layers", action="store_true",
                   help="time each layer alone (fp32), not the step")
    p.add_argument("--rounds", type=int, default=3, help="rounds of --profile-layers")
    a = p.parse_args()
    if a.profile_layers and a.bf16:
        p.error("--profile-layers times fp32 only")
    if a.serve:
        serve(a)
        return
    if a.profile_layers:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cpu "
              f"{torch.backends.cpu.get_cpu_capability()}")
        profile_layers(a)
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
