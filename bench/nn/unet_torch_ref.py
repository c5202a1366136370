"""PyTorch baselines for bench/nn/unet.bench.ts: the same UNet (scripts/nn/unet_torch_ref.py) on the same shapes.

Usage: python3 bench/nn/unet_torch_ref.py > unet-torch.json
Training step (forward + backward + AdamW, BCE + Dice) of UNet 32-64-128-256 on 8x1x256x256 and
64-128-256-512 on 8x1x512x512, inference of 64-128-256-512 on 8x1x512x512: f32 (TF32 off), TF32,
and AMP (f16 autocast, GradScaler) with channels_last. Median ms of CUDA-event timings; prints one
JSON object {"meta": ..., "rows": [{name, precision, ms}]}.
"""
import functools
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "_kit"))
from cuda_timing import time_cuda  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "nn"))
from unet_torch_ref import UNet  # noqa: E402

CASES = [
    ("train UNet 32-64-128-256, 8x1x256x256", [32, 64, 128, 256], (8, 1, 256, 256), True),
    ("train UNet 64-128-256-512, 8x1x512x512", [64, 128, 256, 512], (8, 1, 512, 512), True),
    ("infer UNet 64-128-256-512, 8x1x512x512", [64, 128, 256, 512], (8, 1, 512, 512), False),
]


time_cuda = functools.partial(time_cuda, warmup=5, repeats=20)


def bce_dice(logits, target, smooth=1.0):
    """kensa's bceDiceLoss: BCE-with-logits plus soft Dice per sample, averaged over the batch."""
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    dims = tuple(range(1, logits.dim()))
    dice = 1 - ((2 * (p * target).sum(dims) + smooth) / (p.sum(dims) + target.sum(dims) + smooth)).mean()
    return bce + dice


def run(widths, shape, training, precision):
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.benchmark = True
    amp = precision == "amp"
    fmt = torch.channels_last if amp else torch.contiguous_format
    net = UNet(widths).cuda().to(memory_format=fmt)
    x = torch.rand(*shape, device="cuda").to(memory_format=fmt)
    target = (torch.rand(shape[0], 1, shape[2], shape[3], device="cuda") > 0.9).float()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    if training:
        net.train()

        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
                loss = bce_dice(net(x).float(), target)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
    else:
        net.eval()

        def step():
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16, enabled=amp):
                net(x)

    return time_cuda(step)


def main():
    rows = []
    for name, widths, shape, training in CASES:
        for precision in ("f32", "tf32", "amp"):
            ms = run(widths, shape, training, precision)
            rows.append({"name": name, "precision": precision, "ms": ms})
            print(f"{name} {precision}: {ms:.2f} ms", file=sys.stderr)
    meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "device": torch.cuda.get_device_name(), "torch": torch.__version__}
    print(json.dumps({"meta": meta, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
