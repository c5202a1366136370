"""CuPy / PyTorch baselines for bench/ops: the same ops on the same sizes, timed with CUDA events.

Usage: python3 bench/ops/peers.py N H W case[,case...]  -> JSON on stdout {case: {cupy_ms, torch_ms}, copy_gbs}
Each op takes a u8 batch N×1×H×W already on the device and produces the dtype kensa produces.
"""
import json
import os
import sys
import time

import cupy as cp
import cupyx.scipy.ndimage as ndi
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "_kit"))
from cuda_timing import time_cuda  # noqa: E402



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

    box5 = cp.full(5, 0.2, dtype=cp.float32)

    def torch_dilate(x):
        return F.max_pool2d(F.pad(x.half(), (1, 1, 1, 1), mode="replicate"), 3, stride=1).to(torch.uint8)

    def torch_sobel(x):
        k = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device="cuda").view(1, 1, 3, 3)
        return F.conv2d(F.pad(x.float(), (1, 1, 1, 1), mode="reflect"), k)

    def torch_gradmag(x):
        y = F.pad(x.float(), (1, 1, 1, 1), mode="reflect")
        kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device="cuda").view(1, 1, 3, 3)
        gx = F.conv2d(y, kx)
        gy = F.conv2d(y, kx.transpose(2, 3))
        return torch.sqrt(gx * gx + gy * gy).half()

    def cupy_gradmag(x):
        y = x.astype(cp.float32)
        return cp.sqrt(ndi.sobel(y, axis=-1, mode="mirror") ** 2 + ndi.sobel(y, axis=-2, mode="mirror") ** 2).astype(cp.float16)

    def torch_median3(x):
        y = F.pad(x.float(), (1, 1, 1, 1), mode="replicate")
        return y.unfold(2, 3, 1).unfold(3, 3, 1).reshape(*x.shape, 9).median(dim=-1).values.to(torch.uint8)

    def torch_stats(x):
        y = x.float().flatten(1)
        return torch.stack([y.amin(1), y.amax(1), y.mean(1), y.std(1, correction=0)], 1)

    def cupy_stats(x):
        y = x.reshape(x.shape[0], -1)
        yf = y.astype(cp.float32)
        return cp.stack([y.min(1).astype(cp.float32), y.max(1).astype(cp.float32), yf.mean(1), yf.std(1)], 1)

    return {
        "convert_f32": (lambda: xc.astype(cp.float32) * cp.float32(1 / 255), lambda: xt.float() * (1 / 255)),
        "convert_f16": (lambda: (xc.astype(cp.float32) * cp.float32(1 / 255)).astype(cp.float16), lambda: (xt.half() * (1 / 255))),
        "gaussian5_f32": (lambda: cupy_sep(xc, cp.asarray(G5, dtype=cp.float32), cp.float32), lambda: torch_sep(xt, g5t, torch.float32)),
        "gaussian5_f16": (lambda: cupy_sep(xc, cp.asarray(G5, dtype=cp.float32), cp.float16), lambda: torch_sep(xt, g5t, torch.float16)),
        "box5_f32": (lambda: ndi.uniform_filter(xc.astype(cp.float32), size=(1, 1, 5, 5), mode="mirror"), lambda: torch_sep(xt, torch.full((5,), 0.2, device="cuda"), torch.float32)),
        "median3_u8": (lambda: ndi.median_filter(xc, size=(1, 1, 3, 3), mode="nearest"), lambda: torch_median3(xt)),
        "sobel_f32": (lambda: ndi.sobel(xc.astype(cp.float32), axis=-1, mode="mirror"), lambda: torch_sobel(xt)),
        "gradmag_f16": (lambda: cupy_gradmag(xc), lambda: torch_gradmag(xt)),
        "crack_u8": (lambda: cupy_crack(xc, 20.0), lambda: torch_crack(xt, 20.0)),
        "threshold_u8": (lambda: (xc > 128).astype(cp.uint8) * 255, lambda: (xt > 128).to(torch.uint8) * 255),
        "dilate3_u8": (lambda: ndi.grey_dilation(xc, size=(1, 1, 3, 3), mode="nearest"), lambda: torch_dilate(xt)),
        "resize_half_f32": (lambda: ndi.zoom(xc.astype(cp.float32), (1, 1, 0.5, 0.5), order=1, grid_mode=True, mode="nearest"), lambda: F.interpolate(xt.float(), scale_factor=0.5, mode="bilinear", align_corners=False)),
        "flip_u8": (lambda: cp.ascontiguousarray(xc[..., ::-1]), lambda: torch.flip(xt, dims=[3])),
        "histogram_u8": (lambda: cp.stack([cp.bincount(xc[i].ravel(), minlength=256) for i in range(xc.shape[0])]), lambda: torch.stack([torch.bincount(xt[i].flatten(), minlength=256) for i in range(xt.shape[0])])),
        "stats_u8": (lambda: cupy_stats(xc), lambda: torch_stats(xt)),
    }


def main():
    n, h, w = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    wanted = sys.argv[4].split(",") if len(sys.argv) > 4 else None
    out = {"torch": torch.__version__, "cupy": cp.__version__, "gpu": torch.cuda.get_device_name()}
    a = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    # clocks ramp up under load: two seconds of copies before anything is timed (kensa's side
    # times in interleaved rounds for the same reason)
    t_end = time.perf_counter() + 2
    while time.perf_counter() < t_end:
        for _ in range(50):
            b.copy_(a)
        torch.cuda.synchronize()
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
