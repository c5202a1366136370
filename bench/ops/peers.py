"""CuPy / PyTorch baselines for bench/ops: the same ops on the same sizes, timed with CUDA events.

Usage: python3 bench/ops/peers.py N H W case[,case...]  -> JSON on stdout {case: {cupy_ms, torch_ms}, copy_gbs}
Each op takes a u8 batch N×1×H×W already on the device and produces the dtype kensa produces.
"""
import json
import sys

import cupy as cp
import cupyx.scipy.ndimage as ndi
import torch
import torch.nn.functional as F


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


def time_cupy(fn, warmup=3, repeats=20):
    for _ in range(warmup):
        fn()
    cp.cuda.Device().synchronize()
    times = []
    for _ in range(repeats):
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, end))
    times.sort()
    return times[len(times) // 2]


G5 = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16]


def cases(n, h, w):
    xt = torch.randint(0, 256, (n, 1, h, w), dtype=torch.uint8, device="cuda")
    xc = cp.asarray(xt)
    g5t = torch.tensor(G5, device="cuda", dtype=torch.float32)

    def torch_sep(x, k, out_dtype):
        r = k.numel() // 2
        y = F.pad(x.float(), (r, r, r, r), mode="reflect")
        y = F.conv2d(y, k.view(1, 1, 1, -1))
        y = F.conv2d(y, k.view(1, 1, -1, 1))
        return y.to(out_dtype)

    def cupy_sep(x, k, out_dtype):
        y = x.astype(cp.float32)
        y = ndi.correlate1d(y, k, axis=-1, mode="mirror")
        y = ndi.correlate1d(y, k, axis=-2, mode="mirror")
        return y.astype(out_dtype)

    sobel_k = cp.asarray([-1.0, 0.0, 1.0], dtype=cp.float32)

    def cupy_crack(x, thr):
        y = x.astype(cp.float32)
        gx = ndi.correlate1d(y, sobel_k * 0.5, axis=-1, mode="mirror")
        gy = ndi.correlate1d(y, sobel_k * 0.5, axis=-2, mode="mirror")
        return ((gx * gx + gy * gy) > thr * thr).astype(cp.uint8) * 255

    def torch_crack(x, thr):
        y = F.pad(x.float(), (1, 1, 1, 1), mode="reflect")
        gx = (y[..., 1:-1, 2:] - y[..., 1:-1, :-2]) * 0.5
        gy = (y[..., 2:, 1:-1] - y[..., :-2, 1:-1]) * 0.5
        return ((gx * gx + gy * gy) > thr * thr).to(torch.uint8) * 255

    return {
        "gaussian5_f32": (lambda: cupy_sep(xc, cp.asarray(G5, dtype=cp.float32), cp.float32), lambda: torch_sep(xt, g5t, torch.float32)),
        "gaussian5_f16": (lambda: cupy_sep(xc, cp.asarray(G5, dtype=cp.float32), cp.float16), lambda: torch_sep(xt, g5t, torch.float16)),
        "crack_u8": (lambda: cupy_crack(xc, 20.0), lambda: torch_crack(xt, 20.0)),
        "convert_f32": (lambda: xc.astype(cp.float32) * (1 / 255), lambda: xt.float() * (1 / 255)),
        "label": (lambda: ndi.label((xc > 128))[0], None),
    }


def main():
    n, h, w = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    wanted = sys.argv[4].split(",") if len(sys.argv) > 4 else None
    out = {"torch": torch.__version__, "cupy": cp.__version__, "gpu": torch.cuda.get_device_name()}
    a = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    ms = time_cuda(lambda: b.copy_(a))
    out["copy_gbs"] = 2 * a.numel() / (ms / 1e3) / 1e9
    for name, (cupy_fn, torch_fn) in cases(n, h, w).items():
        if wanted and name not in wanted:
            continue
        r = {"cupy_ms": time_cupy(cupy_fn) if cupy_fn else None, "torch_ms": time_cuda(torch_fn) if torch_fn else None}
        out[name] = r
    print(json.dumps(out))


if __name__ == "__main__":
    main()
