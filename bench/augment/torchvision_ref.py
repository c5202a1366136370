"""torchvision.transforms.v2 reference for bench/augment: the same transforms on the same GPU.

Usage: python3 bench/augment/torchvision_ref.py N H W  -> one JSON line on stdout:
  {"versions": ..., "transforms": {kensa name: ms per image}, "composite": {"per_sample_ms", "batch_draw_ms"},
   "six": {"per_sample_ms"}}
Batches are N×3×H×W uint8 CUDA tensors already on the device (as kensa's resident batches).
Per-sample draws: each image is its own call of the transform (torchvision draws once per call);
`batch_draw_ms` calls the composite once on the whole batch (one draw for all images).
Times are CUDA events around the whole batch, median of repeats, divided by N.
"""
import functools
import json
import os
import sys

import torch
import torchvision
from torchvision import tv_tensors
from torchvision.transforms import v2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "_kit"))
from cuda_timing import time_cuda  # noqa: E402


class RandomRotate90(torch.nn.Module):
    """Albumentations' RandomRotate90: k quarter turns, k uniform in 0..3 (0 or 2 on non-square images)."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, *inputs):
        if torch.rand(()) >= self.p:
            return inputs if len(inputs) > 1 else inputs[0]
        h, w = inputs[0].shape[-2:]
        k = int(torch.randint(0, 4, ())) if h == w else 2 * int(torch.randint(0, 2, ()))
        out = tuple(tv_tensors.wrap(torch.rot90(x, k, dims=(-2, -1)), like=x) if isinstance(x, tv_tensors.TVTensor) else torch.rot90(x, k, dims=(-2, -1)) for x in inputs)
        return out if len(out) > 1 else out[0]


def flip(p):
    """Albumentations' Flip: horizontal, vertical or both, with probability p."""
    return v2.RandomApply(
        [v2.RandomChoice([v2.RandomHorizontalFlip(1.0), v2.RandomVerticalFlip(1.0), v2.Compose([v2.RandomHorizontalFlip(1.0), v2.RandomVerticalFlip(1.0)])])],
        p=p,
    )


def brightness_contrast(p):
    return v2.RandomApply([v2.ColorJitter(brightness=0.2, contrast=0.2)], p=p)


def gaussian_blur(p):
    # blur_limit (3, 7): an odd size drawn per call; sigma from the size as OpenCV does
    return v2.RandomApply([v2.RandomChoice([v2.GaussianBlur(k, sigma=0.3 * ((k - 1) * 0.5 - 1) + 0.8) for k in (3, 5, 7)])], p=p)


time_batch = functools.partial(time_cuda, warmup=2, repeats=7)


def per_sample(t, batch, mask=None):
    """Each image (and its mask) its own call: per-sample parameters."""
    def run():
        if mask is None:
            return [t(batch[i]) for i in range(batch.shape[0])]
        return [t(tv_tensors.Image(batch[i]), tv_tensors.Mask(mask[i])) for i in range(batch.shape[0])]
    return run


def main():
    n, h, w = (int(v) for v in sys.argv[1:4])
    dev = torch.device("cuda")
    g = torch.Generator(device=dev).manual_seed(1)
    x = torch.randint(0, 256, (n, 3, h, w), dtype=torch.uint8, device=dev, generator=g)
    torch.manual_seed(1)
    # kensa name -> the torchvision v2 transform at p = 1 (sizes as bench/augment/augment.bench.ts ARGS)
    single = {
        "HorizontalFlip": v2.RandomHorizontalFlip(1.0),
        "VerticalFlip": v2.RandomVerticalFlip(1.0),
        "RandomRotate90": RandomRotate90(1.0),
        "Affine": v2.RandomAffine(degrees=(-30, 30), translate=(0.1, 0.1), scale=(0.8, 1.2), shear=(-5, 5)),
        "ShiftScaleRotate": v2.RandomAffine(degrees=(-45, 45), translate=(0.0625, 0.0625), scale=(0.9, 1.1)),
        "Perspective": v2.RandomPerspective(distortion_scale=0.1, p=1.0),
        "RandomCrop": v2.RandomCrop((h * 3 // 4, w * 3 // 4)),
        "CenterCrop": v2.CenterCrop((h * 3 // 4, w * 3 // 4)),
        "RandomResizedCrop": v2.RandomResizedCrop((h // 2, w // 2), antialias=True),
        "Resize": v2.Resize((h // 2, w // 2), antialias=True),
        "PadIfNeeded": v2.Pad((32, 32, 32, 32)),
        "RandomBrightnessContrast": v2.ColorJitter(brightness=0.2, contrast=0.2),
        "ColorJitter": v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.2),
        "HueSaturationValue": v2.ColorJitter(saturation=0.3, hue=0.05),
        "ToGray": v2.Grayscale(num_output_channels=3),
        "GaussianBlur": gaussian_blur(1.0),
        "CoarseDropout": v2.RandomErasing(p=1.0, scale=(0.01, 0.05)),
    }
    out = {"versions": f"torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.cuda.get_device_name()}", "transforms": {}}
    for name, t in single.items():
        out["transforms"][name] = time_batch(per_sample(t, x)) / n
        print(f"{name}: {out['transforms'][name]:.4f} ms/img", file=sys.stderr)
    composite = v2.Compose([RandomRotate90(0.5), flip(0.5), brightness_contrast(0.2), gaussian_blur(0.1)])
    out["composite"] = {
        "per_sample_ms": time_batch(per_sample(composite, x)) / n,
        "batch_draw_ms": time_batch(lambda: composite(x)) / n,
    }
    s = 512
    xs = torch.randint(0, 256, (n, 3, s, s), dtype=torch.uint8, device=dev, generator=g)
    ms = torch.randint(0, 2, (n, 1, s, s), dtype=torch.uint8, device=dev, generator=g)
    six = v2.Compose(
        [
            RandomRotate90(0.5),
            v2.RandomHorizontalFlip(0.5),
            v2.RandomApply([v2.RandomAffine(degrees=(-45, 45), translate=(0.0625, 0.0625), scale=(0.9, 1.1))], p=0.5),
            brightness_contrast(0.5),
            v2.RandomApply([v2.ColorJitter(saturation=0.3, hue=0.05)], p=0.5),
            gaussian_blur(0.3),
        ]
    )
    out["six"] = {"per_sample_ms": time_batch(per_sample(six, xs, ms)) / n}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
