"""PyTorch peer of bench/models/unet-inspect.bench.ts: the same UNet (scripts/nn/unet_torch_ref.py)
in f16 (autocast, channels_last, cuDNN benchmark) on 2048x2048 frames with the same tiling as
kensa's tileGrid: 512-px tiles read with 64 px of overlap, crops clamped to the frame (640^2 windows,
576^2 at the edges), windows of one size batched, each window's centre pasted into the frame's
logits; then sigmoid and the 0.5 threshold. (kensa's run also labels connected components; not
here.) UNet 64-128-256-512 and 48-96-192-384. Median ms per frame of CUDA-event timings
(bench/_kit/cuda_timing.py). Prints one JSON line.

Usage: python3 bench/models/unet_inspect_torch.py [frame=2048] [batch=1]
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "_kit"))
from cuda_timing import time_cuda  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "nn"))
from unet_torch_ref import UNet  # noqa: E402

TILE, OVERLAP = 512, 64


def tile_grid(width, height, tile, halo):
    """kensa's tileGrid (src/tiling/grid.ts), window off: interiors partition the frame, crops clamped."""
    tiles = []
    for y in range(0, height, tile):
        for x in range(0, width, tile):
            w, h = min(tile, width - x), min(tile, height - y)
            cx, cy = max(0, x - halo), max(0, y - halo)
            tiles.append(((x, y, w, h), (cx, cy, min(width, x + w + halo) - cx, min(height, y + h + halo) - cy)))
    return tiles


def infer(net, frames, tiles):
    n, _, height, width = frames.shape
    out = torch.empty(n, 1, height, width, device=frames.device, dtype=torch.float16)
    by_size = {}
    for interior, crop in tiles:
        by_size.setdefault((crop[2], crop[3]), []).append((interior, crop))
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16):
        for group in by_size.values():
            windows = torch.cat([frames[:, :, cy : cy + ch, cx : cx + cw] for _, (cx, cy, cw, ch) in group]).contiguous(memory_format=torch.channels_last)
            logits = net(windows)
            for k, ((x, y, w, h), (cx, cy, _, _)) in enumerate(group):
                out[:, :, y : y + h, x : x + w] = logits[k * n : (k + 1) * n, :, y - cy : y - cy + h, x - cx : x - cx + w]
        return torch.sigmoid(out) > 0.5


def main():
    frame = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    torch.backends.cudnn.benchmark = True
    frames = (torch.rand(batch, 1, frame, frame, device="cuda") * 56 + 100) / 255
    tiles = tile_grid(frame, frame, TILE, OVERLAP)
    result = {"bench": "UNet tiled inference (PyTorch f16)", "frame": f"{frame}x{frame}", "batch": batch}
    result["tiling"] = {"tile": TILE, "overlap": OVERLAP, "windows": len(tiles), "window": TILE + 2 * OVERLAP, "stitch": "centre crop"}
    for name, widths in (("default", [64, 128, 256, 512]), ("slim", [48, 96, 192, 384])):
        net = UNet(widths).cuda().eval().to(memory_format=torch.channels_last)
        result[name] = {"widths": widths, "msPerFrame": time_cuda(lambda: infer(net, frames, tiles), warmup=3, repeats=10) / batch}
    result["slimSpeedup"] = result["default"]["msPerFrame"] / result["slim"]["msPerFrame"]
    result["meta"] = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "device": torch.cuda.get_device_name(), "torch": torch.__version__}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
