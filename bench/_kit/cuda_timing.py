"""GPU time of a PyTorch call by CUDA events: the median over repeats after warm-up, in ms.
Shared by the Python peers of the benches (bench/ops/peers.py, bench/augment, bench/nn)."""

import torch


def time_cuda(fn, warmup=3, repeats=20):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]

