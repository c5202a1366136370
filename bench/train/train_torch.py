"""PyTorch peer of bench/train/train.bench.ts: the same UNet (scripts/nn/unet_torch_ref.py, the
module with kensa's parameter names) trained with AMP (f16 autocast, GradScaler, channels_last)
on the same data (the kensa samples folder the kensa bench writes), the same 512² random crops
(one per image, every image once an epoch in a shuffled order), batch 8, BCE + Dice, AdamW with a
cosine decay. Images are decoded and cropped by DataLoader workers each epoch, as kensa's loader
decodes them; each step reads its loss back (as kensa's loop does).

Usage: python3 bench/train/train_torch.py [dataDir] [epochs] -> one JSON line on stdout:
  steady images/s between steps inside an epoch after the first, the wall rate over the run, and
  the compute-only step (one fixed batch, CUDA events, bench/_kit/cuda_timing.py).
"""
import importlib.util
import json
import os
import sys
import time

import torch
import torchvision
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "_kit"))
from cuda_timing import time_cuda  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "nn"))
from unet_torch_ref import UNet  # noqa: E402

# kensa's bceDiceLoss from the UNet bench's peer (a module of the same file name: loaded by path)
_spec = importlib.util.spec_from_file_location("unet_bench_ref", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "nn", "unet_torch_ref.py"))
_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench)
bce_dice = _bench.bce_dice

DATA = sys.argv[1] if len(sys.argv) > 1 else "/tmp/kensa-bench-train/data"
EPOCHS = int(sys.argv[2]) if len(sys.argv) > 2 else 4
CROP, BATCH, LR, WEIGHT_DECAY = 512, 8, 1e-3, 1e-4


class Crops(Dataset):
    """Image i of the folder and its mask, decoded, one random CROP² window of both."""

    def __init__(self, root):
        self.names = sorted(os.path.splitext(f)[0] for f in os.listdir(os.path.join(root, "images")))
        self.root = root

    def __len__(self):
        return len(self.names)

    def __getitem__(self, i):
        read = torchvision.io.read_image
        name = self.names[i]
        image = read(os.path.join(self.root, "images", name + ".png"), torchvision.io.ImageReadMode.GRAY)
        mask = read(os.path.join(self.root, "masks", name + ".png"), torchvision.io.ImageReadMode.GRAY)
        y = int(torch.randint(0, image.shape[1] - CROP + 1, ()))
        x = int(torch.randint(0, image.shape[2] - CROP + 1, ()))
        return image[:, y : y + CROP, x : x + CROP], mask[:, y : y + CROP, x : x + CROP]


def summarize(values):
    s = sorted(values)
    q = lambda p: s[min(len(s) - 1, int(p * (len(s) - 1) + 0.5))]  # noqa: E731
    return {"median": q(0.5), "min": s[0], "max": s[-1], "q1": q(0.25), "q3": q(0.75), "n": len(s)}


def main():
    if not os.path.exists(os.path.join(DATA, "labels.json")):
        sys.exit(f"no data in {DATA}: run bench/train/train.bench.ts first (it writes the samples)")
    torch.manual_seed(1)
    torch.backends.cudnn.benchmark = True
    data = Crops(DATA)
    workers = min(16, os.cpu_count() or 1)
    loader = DataLoader(data, batch_size=BATCH, shuffle=True, num_workers=workers, pin_memory=True, persistent_workers=True)
    net = UNet([64, 128, 256, 512]).cuda().to(memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS * len(loader))
    scaler = torch.amp.GradScaler("cuda")

    def step(image, mask):
        x = (image.cuda(non_blocking=True).float() / 255).contiguous(memory_format=torch.channels_last)
        target = (mask.cuda(non_blocking=True) > 0).float()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.float16):
            loss = bce_dice(net(x).float(), target)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        sched.step()
        return loss

    times, losses = [], []
    start = time.perf_counter()
    for epoch in range(EPOCHS):
        last = None
        for image, mask in loader:
            losses.append(step(image, mask).item())
            now = time.perf_counter()
            if last is not None and epoch > 0:
                times.append((now - last) * 1000)
            last = now
    wall = time.perf_counter() - start
    image, mask = next(iter(loader))
    compute_ms = time_cuda(lambda: step(image, mask), warmup=3, repeats=10)
    ms = summarize(times)
    meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "device": torch.cuda.get_device_name(), "torch": torch.__version__, "workers": workers}
    print(
        json.dumps(
            {
                "bench": "train torch",
                "meta": meta,
                "model": "UNet 64-128-256-512",
                "crop": CROP,
                "batch": BATCH,
                "images": len(data),
                "epochs": EPOCHS,
                "amp": True,
                "steps": len(losses),
                "stepMs": ms,
                "imagesPerSecond": BATCH * 1000 / ms["median"],
                "wallImagesPerSecond": len(losses) * BATCH / wall,
                "computeOnlyMs": compute_ms,
                "lastLoss": losses[-1],
            }
        )
    )


if __name__ == "__main__":
    main()
