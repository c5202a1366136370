"""Kornia reference for bench/augment: the seed composite, the 6-transform pipeline and the single
transforms Kornia has, on the same GPU as kensa and torchvision.

Usage: PYTHONPATH=<kornia source tree> python3 bench/augment/kornia_ref.py N H W -> one JSON line on stdout:
  {"versions": ..., "transforms": {kensa name: ms per image}, "composite": {"per_sample_ms"}, "six": {"per_sample_ms"}}
Kornia draws its parameters per sample inside one batched call (same_on_batch=False), so one call
of the batch is its per-sample figure. It has no uint8 path: the batch is N×3×H×W float32 in
[0, 1] on the device (4× the bytes of kensa's u8 batches). The GPU machine has no network: Kornia
runs from its source tree, which travels with the device call —
  fetch github:kornia/kornia, then  git --git-dir=<its mirror> archive HEAD kornia | zstd -19 -o .device-extra/kornia.tar.zst
and carry [".device", ".device-extra"] (git-ignored, ~0.6 MB); bench/run-device.sh unpacks it into kornia-src/ and puts that on PYTHONPATH. Its
Rust image I/O (kornia_rs, a compiled wheel the augmentations do not use) is stubbed so that
`import kornia` succeeds.
Times are CUDA events around the whole batch, median of repeats, divided by N.
"""
import functools
import json
import os
import sys
import types

import torch

sys.modules.setdefault("kornia_rs", types.ModuleType("kornia_rs"))
import kornia  # noqa: E402
import kornia.augmentation as K  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "_kit"))
from cuda_timing import time_cuda  # noqa: E402

time_batch = functools.partial(time_cuda, warmup=2, repeats=7)


def gaussian_blur(p):
    # blur_limit (3, 7) draws a kernel size per image; Kornia's kernel size is fixed per transform:
    # the largest (7), sigma drawn per image over OpenCV's sigmas for sizes 3 … 7
    return K.RandomGaussianBlur((7, 7), (0.8, 1.4), p=p)


def timed(out, key, run, n):
    # a pipeline this Kornia version refuses: the other rows still come back
    try:
        out[key] = {"per_sample_ms": time_batch(run) / n}
    except Exception as e:
        print(f"{key}: {type(e).__name__}: {e}", file=sys.stderr)


def main():
    n, h, w = (int(v) for v in sys.argv[1:4])
    dev = torch.device("cuda")
    # Kornia builds some parameters with torch's default device (its probability draws among them):
    # on the CPU they meet CUDA images ("Expected all tensors to be on the same device")
    torch.set_default_device(dev)
    g = torch.Generator(device=dev).manual_seed(1)
    x = torch.rand((n, 3, h, w), device=dev, generator=g)
    torch.manual_seed(1)
    # kensa name -> the Kornia transform at p = 1 (sizes as bench/augment/augment.bench.ts ARGS and torchvision_ref.py)
    single = {
        "HorizontalFlip": K.RandomHorizontalFlip(p=1.0),
        "VerticalFlip": K.RandomVerticalFlip(p=1.0),
        "RandomRotate90": K.RandomRotation90(times=(0, 3), resample="nearest", p=1.0),
        "Affine": K.RandomAffine(degrees=(-30, 30), translate=(0.1, 0.1), scale=(0.8, 1.2), shear=(-5, 5), p=1.0),
        "ShiftScaleRotate": K.RandomAffine(degrees=(-45, 45), translate=(0.0625, 0.0625), scale=(0.9, 1.1), p=1.0),
        "Perspective": K.RandomPerspective(distortion_scale=0.1, p=1.0),
        "RandomCrop": K.RandomCrop((h * 3 // 4, w * 3 // 4), p=1.0),
        "CenterCrop": K.CenterCrop((h * 3 // 4, w * 3 // 4), p=1.0),
        "RandomResizedCrop": K.RandomResizedCrop((h // 2, w // 2), p=1.0),
        "Resize": K.Resize((h // 2, w // 2), antialias=True),
        "RandomBrightnessContrast": K.ColorJitter(brightness=0.2, contrast=0.2, p=1.0),
        "ColorJitter": K.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.2, p=1.0),
        "HueSaturationValue": K.ColorJitter(saturation=0.3, hue=0.05, p=1.0),
        "ToGray": K.RandomGrayscale(p=1.0),
        "GaussianBlur": gaussian_blur(1.0),
        "CoarseDropout": K.RandomErasing(scale=(0.01, 0.05), p=1.0),
        "GaussNoise": K.RandomGaussianNoise(std=0.05, p=1.0),
        "MotionBlur": K.RandomMotionBlur(7, (-45.0, 45.0), (-1.0, 1.0), p=1.0),
        "RandomGamma": K.RandomGamma((0.8, 1.2), p=1.0),
        "CLAHE": K.RandomClahe(p=1.0),
    }
    out = {"versions": f"torch {torch.__version__}, kornia {kornia.__version__} (source tree), {torch.cuda.get_device_name()}", "transforms": {}}
    for name, t in single.items():
        try:
            out["transforms"][name] = time_batch(lambda t=t: t(x)) / n
            print(f"{name}: {out['transforms'][name]:.4f} ms/img", file=sys.stderr)
        except Exception as e:  # a transform this Kornia version lacks or refuses: the others still run
            print(f"{name}: {type(e).__name__}: {e}", file=sys.stderr)
    # quarter turns would give a non-square batch two shapes (AugmentationSequential refuses it):
    # half turns only there, as Albumentations' RandomRotate90 and kensa's draw on such images
    turns = (0, 3) if h == w else (2, 2)
    composite = K.AugmentationSequential(
        K.RandomRotation90(times=turns, resample="nearest", p=0.5),
        K.RandomHorizontalFlip(p=0.5),
        K.ColorJitter(brightness=0.2, contrast=0.2, p=0.2),
        gaussian_blur(0.1),
    )
    timed(out, "composite", lambda: composite(x), n)
    s = 512
    xs = torch.rand((n, 3, s, s), device=dev, generator=g)
    ms = torch.randint(0, 2, (n, 1, s, s), device=dev, generator=g).float()
    six = K.AugmentationSequential(
        K.RandomRotation90(times=(0, 3), resample="nearest", p=0.5),
        K.RandomHorizontalFlip(p=0.5),
        K.RandomAffine(degrees=(-45, 45), translate=(0.0625, 0.0625), scale=(0.9, 1.1), p=0.5),
        K.ColorJitter(brightness=0.2, contrast=0.2, p=0.5),
        K.ColorJitter(saturation=0.3, hue=0.05, p=0.5),
        gaussian_blur(0.3),
        data_keys=["input", "mask"],
    )
    timed(out, "six", lambda: six(xs, ms), n)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
