"""The PyTorch twin of `kensa train` for the real-data comparison (docs/train-real-data.md).

Trains the UNet of scripts/nn/unet_torch_ref.py (kensa's parameter names) on a plan written by
bench/train/real-data/plan.ts from kensa's own code: the same training/validation split, the same
batches and crop corners in the same order, the same decoded pixels and the same initial weights
(kensa's for the seed). Like src/train/train.ts: input = pixels / 255; loss = BCE with logits
(pos_weight) + soft Dice on sigmoid(logits) per sample, 1 - (2 sum(p*y) + 1) / (sum(p) + sum(y) + 1),
averaged over the batch (src/nn/losses.ts); AdamW (betas 0.9/0.999, eps 1e-8, decoupled weight
decay); before each step lr = cosine(step) over epochs x ceil(training images / batch) steps down to 0
(src/nn/schedule.ts); after each epoch a validation without gradients on whole images in crop-sized
tiles (the last row and column aligned to the image's edge, later tiles overwriting earlier ones),
a defect where the logit is > 0, IoU micro-averaged; best = first epoch, then any strictly higher
IoU (src/train/validate.ts, train.ts). f32 by default with TF32 off (kensa's f32); --amp: autocast
f16 with a GradScaler.

Then predicts the plan's test images whole with the best weights: each padded at the bottom and
right to a multiple of 2^(levels-1) by reflection (torch's 'reflect', the edge pixel not repeated),
a defect where the logit is > 0, written as 0/255 PNGs named after the images (the same rule as
bench/train/real-data/predict.ts on kensa's side).

Writes OUT/last.safetensors and OUT/best.safetensors (kensa's layout and metadata: kensa's UNet
loads them), OUT/log.json and OUT/pred/<name>.png. Needs only torch. On CUDA when available.

    python scripts/train/torch_train.py --plan PLAN_DIR --out OUT [--amp]
"""

import argparse
import contextlib
import json
import math
import os
import shutil
import struct
import sys
import time
import zlib

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "nn"))
from unet_torch_ref import UNet, save_safetensors  # noqa: E402

SAFETENSORS_DTYPES = {"F32": torch.float32, "I64": torch.int64}


def read_safetensors(path):
    """The tensors of a safetensors file (F32 and I64) and its metadata."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, h in header.items():
        start, end = h["data_offsets"]
        raw = bytearray(data[8 + n + start : 8 + n + end])
        tensors[name] = torch.frombuffer(raw, dtype=SAFETENSORS_DTYPES[h["dtype"]]).reshape(h["shape"])
    return tensors, meta


def write_png(path, mask, width, height):
    """A grey 8-bit PNG of `mask` (height x width bytes)."""

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + mask[r * width : (r + 1) * width] for r in range(height))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def autocast(amp):
    return torch.autocast("cuda", dtype=torch.float16) if amp else contextlib.nullcontext()


def bce_dice(logits, y, pos_weight):
    bce = F.binary_cross_entropy_with_logits(logits, y, pos_weight=torch.tensor(pos_weight, device=logits.device))
    p = torch.sigmoid(logits)
    axes = tuple(range(1, logits.dim()))
    ratio = (2 * (p * y).sum(axes) + 1) / (p.sum(axes) + y.sum(axes) + 1)
    return bce + (1 - ratio.mean())


def tile_origins(size, crop):
    """As validate.ts tileOrigins: every `crop`, the last at size - crop."""
    out, v = [], 0
    while v + crop < size:
        out.append(v)
        v += crop
    out.append(size - crop)
    return out


class Items:
    """The plan's items as tensors: images u8 [C, H, W], masks f32 0/1 [1, H, W]."""

    def __init__(self, plan_dir, entries):
        with open(os.path.join(plan_dir, "pixels.bin"), "rb") as f:
            pixels = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8)
        self.entries = entries
        self.images, self.masks = [], []
        for e in entries:
            c, h, w = e["channels"], e["height"], e["width"]
            self.images.append(pixels[e["image"][0] : e["image"][0] + e["image"][1]].reshape(c, h, w))
            m = e["mask"]
            self.masks.append(None if m is None else pixels[m[0] : m[0] + m[1]].reshape(1, h, w).float())


def validate(net, items, cfg, device, amp):
    """Loss over the tiles, strict IoU (micro) of whole images predicted in crop tiles."""
    crop, batch = cfg["crop"], cfg["batchSize"]
    inter = union = 0
    loss_sum, tiles = 0.0, 0
    net.eval()
    with torch.no_grad():
        for image, mask in zip(items.images, items.masks):
            _, h, w = image.shape
            corners = [(x, y) for y in tile_origins(h, crop) for x in tile_origins(w, crop)]
            pred = torch.zeros(h, w, dtype=torch.bool)
            for start in range(0, len(corners), batch):
                part = corners[start : start + batch]
                x = torch.stack([image[:, y : y + crop, x0 : x0 + crop] for x0, y in part]).to(device).float() / 255
                t = torch.stack([mask[:, y : y + crop, x0 : x0 + crop] for x0, y in part]).to(device)
                with autocast(amp):
                    logits = net(x)
                logits = logits.float()
                loss_sum += bce_dice(logits, t, cfg["posWeight"]).item() * len(part)
                positive = (logits > 0).cpu()
                for k, (x0, y) in enumerate(part):
                    pred[y : y + crop, x0 : x0 + crop] = positive[k, 0]
            tiles += len(corners)
            truth = mask[0] > 0
            inter += (pred & truth).sum().item()
            union += (pred | truth).sum().item()
    net.train()
    return {"loss": loss_sum / tiles if tiles else 0.0, "iou": inter / union if union else None}


def pad_reflect(x, factor):
    h, w = x.shape[-2:]
    ph, pw = (-h) % factor, (-w) % factor
    return F.pad(x, (0, pw, 0, ph), mode="reflect") if ph or pw else x


def predict(net, items, factor, device, amp, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    net.eval()
    with torch.no_grad():
        for e, image in zip(items.entries, items.images):
            h, w = e["height"], e["width"]
            x = pad_reflect(image.to(device).float().unsqueeze(0) / 255, factor)
            with autocast(amp):
                logits = net(x)
            mask = ((logits.float()[0, 0, :h, :w] > 0).to(torch.uint8) * 255).cpu()
            write_png(os.path.join(out_dir, e["name"] + ".png"), bytes(mask.flatten().tolist()), w, h)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--plan", required=True, help="folder of plan.json, pixels.bin, init.safetensors")
    parser.add_argument("--out", required=True)
    parser.add_argument("--amp", action="store_true", help="autocast f16 with a GradScaler (CUDA only)")
    args = parser.parse_args()
    with open(os.path.join(args.plan, "plan.json")) as f:
        plan = json.load(f)
    cfg = plan["config"]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    amp = args.amp and device.type == "cuda"
    # kensa's f32 runs in f32: no TF32 in PyTorch's f32 either
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(cfg["seed"])
    os.makedirs(args.out, exist_ok=True)

    train = Items(args.plan, plan["items"]["train"])
    validation = Items(args.plan, plan["items"]["validation"])
    test = Items(args.plan, plan["items"]["test"])
    widths, channels = cfg["widths"], cfg["channels"]
    net = UNet(widths, in_channels=channels).to(device)
    init, _ = read_safetensors(os.path.join(args.plan, "init.safetensors"))
    net.load_state_dict(init)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg["lr"], weight_decay=cfg["weightDecay"])
    scaler = torch.cuda.amp.GradScaler(enabled=amp)
    total = cfg["epochs"] * cfg["stepsPerEpoch"]
    crop = cfg["crop"]
    unet_config = {
        "inChannels": channels,
        "classes": 1,
        "widths": widths,
        "preprocessing": {"mean": [0] * channels, "std": [1] * channels},
        "head": "sigmoid",
    }
    meta = {"format": "pt", "kensa.model": "unet", "kensa.config": json.dumps(unet_config)}
    log = {"config": cfg, "device": str(torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"), "torch": torch.__version__, "amp": amp, "epochs": [], "steps": {"loss": []}}
    best, steps, started = None, 0, time.perf_counter()
    by_epoch = {}
    for b in plan["batches"]:
        by_epoch.setdefault(b["epoch"], []).append(b["crops"])
    net.train()
    for epoch in range(cfg["epochs"]):
        t0 = time.perf_counter()
        losses, images = [], 0
        for crops in by_epoch.get(epoch, []):
            x = torch.stack([train.images[i][:, y : y + crop, x0 : x0 + crop] for i, x0, y in crops]).to(device).float() / 255
            t = torch.stack([train.masks[i][:, y : y + crop, x0 : x0 + crop] for i, x0, y in crops]).to(device)
            lr = 0.0 if steps >= total else cfg["lr"] * (1 + math.cos(math.pi * steps / total)) / 2
            for g in opt.param_groups:
                g["lr"] = lr
            opt.zero_grad(set_to_none=True)
            with autocast(amp):
                logits = net(x)
            loss = bce_dice(logits.float(), t, cfg["posWeight"])
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            steps += 1
            losses.append(loss.item())
            log["steps"]["loss"].append(losses[-1])
            images += len(crops)
        trained = time.perf_counter()
        v = validate(net, validation, cfg, device, amp) if validation.entries else {"loss": None, "iou": None}
        record = {
            "epoch": epoch + 1,
            "steps": steps,
            "trainLoss": sum(losses) / max(1, len(losses)),
            "validationLoss": v["loss"],
            "iou": v["iou"],
            "lr": lr if losses else None,
            "imagesPerSecond": images / (trained - t0) if trained > t0 else 0,
            "seconds": trained - t0,
            "validationSeconds": time.perf_counter() - trained,
        }
        log["epochs"].append(record)
        save_safetensors(os.path.join(args.out, "last.safetensors"), net.state_dict(), meta)
        if best is None or best["iou"] is None or (v["iou"] is not None and v["iou"] > best["iou"]):
            best = {"epoch": epoch + 1, "iou": v["iou"]}
            shutil.copyfile(os.path.join(args.out, "last.safetensors"), os.path.join(args.out, "best.safetensors"))
        iou = "-" if v["iou"] is None else f"{v['iou']:.4f}"
        print(f"epoch {epoch + 1}/{cfg['epochs']}: loss {record['trainLoss']:.4f}, validation IoU {iou}, {record['imagesPerSecond']:.0f} images/s", flush=True)
    log["best"] = best
    log["trainSeconds"] = time.perf_counter() - started
    weights, _ = read_safetensors(os.path.join(args.out, "best.safetensors"))
    net.load_state_dict(weights)
    predict(net, test, 2 ** (len(widths) - 1), device, amp, os.path.join(args.out, "pred"))
    with open(os.path.join(args.out, "log.json"), "w") as f:
        json.dump(log, f, indent=1)
    print(f"torch_train: best epoch {best['epoch']} (validation IoU {best['iou']}), {log['trainSeconds']:.1f} s; {len(test.entries)} test masks in {args.out}/pred")


if __name__ == "__main__":
    main()
