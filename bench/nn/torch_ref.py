"""PyTorch baselines for bench/nn/gemm.bench.ts: the shapes of bench/nn/shapes.json, timed with CUDA events.

Usage: python3 bench/nn/torch_ref.py > torch.json
GEMM: torch.matmul in f16, f32 with TF32 and f32 without. Convolutions (cuDNN, benchmark mode,
NCHW as kensa): forward, input gradient and weight gradient (torch.nn.grad, as autograd runs them)
in the same three precisions. Prints one JSON object: {"meta": ..., "rows": [{name, pass, precision, ms, tflops}]}.
"""
import functools
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn import grad

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "_kit"))
from cuda_timing import time_cuda  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = json.load(open(os.path.join(HERE, "shapes.json")))
PRECISIONS = {"f16": (torch.float16, False), "tf32": (torch.float32, True), "f32": (torch.float32, False)}


time_cuda = functools.partial(time_cuda, warmup=3, repeats=15)


def set_tf32(on):
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def conv_passes(c, dtype):
    """(pass name, fn, flops) for one convolution shape."""
    dev = "cuda"
    n, cin, cout, h, w, k, p, s = c["n"], c["cin"], c["cout"], c["h"], c["w"], c["k"], c["padding"], c["stride"]
    x = torch.randn(n, cin, h, w, device=dev, dtype=dtype)
    if c.get("transposed"):
        wt = torch.randn(cin, cout, k, k, device=dev, dtype=dtype)
        y = F.conv_transpose2d(x, wt, stride=s, padding=p)
        dy = torch.randn_like(y)
        flops = 2 * n * cin * h * w * cout * k * k
        return [
            ("forward", lambda: F.conv_transpose2d(x, wt, stride=s, padding=p), flops),
            ("backward input", lambda: F.conv2d(dy, wt, stride=s, padding=p), flops),
            # the weight gradient of y = conv_transpose(x) is conv2d's weight gradient with x and dy swapped
            ("backward weight", lambda: grad.conv2d_weight(dy, wt.shape, x, stride=s, padding=p), flops),
        ]
    wt = torch.randn(cout, cin, k, k, device=dev, dtype=dtype)
    y = F.conv2d(x, wt, stride=s, padding=p)
    dy = torch.randn_like(y)
    flops = 2 * y.numel() * cin * k * k
    return [
        ("forward", lambda: F.conv2d(x, wt, stride=s, padding=p), flops),
        ("backward input", lambda: grad.conv2d_input(x.shape, wt, dy, stride=s, padding=p), flops),
        ("backward weight", lambda: grad.conv2d_weight(x, wt.shape, dy, stride=s, padding=p), flops),
    ]


def main():
    torch.backends.cudnn.benchmark = True
    rows = []
    for label, (dtype, tf32) in PRECISIONS.items():
        set_tf32(tf32)
        for g in SHAPES["gemm"]:
            a = torch.randn(g["m"], g["k"], device="cuda", dtype=dtype)
            b = torch.randn(g["k"], g["n"], device="cuda", dtype=dtype)
            ms = time_cuda(lambda: torch.matmul(a, b))
            rows.append({"name": g["name"], "pass": "forward", "precision": label, "ms": ms, "tflops": 2 * g["m"] * g["n"] * g["k"] / ms / 1e9})
            del a, b
        for c in SHAPES["conv"]:
            for name, fn, flops in conv_passes(c, dtype):
                ms = time_cuda(fn)
                rows.append({"name": c["name"], "pass": name, "precision": label, "ms": ms, "tflops": flops / ms / 1e9})
            torch.cuda.empty_cache()
    meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "device": torch.cuda.get_device_name(), "torch": torch.__version__, "cudnn": torch.backends.cudnn.version()}
    print(json.dumps({"meta": meta, "rows": rows}))


if __name__ == "__main__":
    main()
