"""The PyTorch twin of kensa's UNet (src/models/unet.ts) and the parity fixture of the tiny one.

Writes test/models/fixtures/unet-tiny.safetensors (the weights under kensa's names, its configuration
in the metadata) and test/models/fixtures/unet-tiny.io.safetensors (an input x, the eval-mode
logits, the train-mode logits, and each level's eval-mode output for a layer-by-layer check),
which test/models/unet-torch.test.ts compares with kensa. Needs only torch (the safetensors
package is not required):

    python scripts/nn/unet_torch_ref.py [--out test/models/fixtures]
"""

import argparse
import json
import os
import struct

import torch
from torch import nn


class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(x)))


class UNet(nn.Module):
    """enc.i: DoubleConv per level; up.i: ConvTranspose2d(w[i+1], w[i], 2, stride 2); dec.i: DoubleConv(2 w[i], w[i]); head: 1x1 conv."""

    def __init__(self, widths=(64, 128, 256, 512), in_channels=1, classes=1):
        super().__init__()
        self.enc = nn.ModuleList(DoubleConv(in_channels if i == 0 else widths[i - 1], w) for i, w in enumerate(widths))
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(len(widths) - 1))
        self.dec = nn.ModuleList(DoubleConv(2 * widths[i], widths[i]) for i in range(len(widths) - 1))
        self.head = nn.Conv2d(widths[0], classes, 1)

    def forward(self, x, levels=None):
        skips = []
        for i, enc in enumerate(self.enc):
            x = enc(x)
            if levels is not None:
                levels[f"enc.{i}"] = x
            if i + 1 < len(self.enc):
                skips.append(x)
                x = torch.max_pool2d(x, 2)
        for i in reversed(range(len(self.dec))):
            x = self.dec[i](torch.cat([skips[i], self.up[i](x)], 1))
            if levels is not None:
                levels[f"dec.{i}"] = x
        return self.head(x)


DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def save_safetensors(path, tensors, metadata):
    """The safetensors layout: u64 header length, JSON header padded to 8 bytes, little-endian data."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header)
    text += " " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode())
        for b in blobs:
            f.write(b)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="test/models/fixtures")
    args = parser.parse_args()
    torch.manual_seed(0)
    widths = [4, 8]
    net = UNet(widths, in_channels=1, classes=1)
    x = torch.randn(2, 1, 16, 16)
    target = (x > 0.5).float()
    # a few steps so that the weights and running statistics are not the initial ones
    opt = torch.optim.AdamW(net.parameters(), lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.binary_cross_entropy_with_logits(net(x), target).backward()
        opt.step()
    os.makedirs(args.out, exist_ok=True)
    config = {"inChannels": 1, "classes": 1, "widths": widths, "preprocessing": {"mean": [0], "std": [1]}, "head": "sigmoid"}
    meta = {"format": "pt", "kensa.model": "unet", "kensa.config": json.dumps(config)}
    save_safetensors(os.path.join(args.out, "unet-tiny.safetensors"), net.state_dict(), meta)
    net.eval()
    levels = {}
    with torch.no_grad():
        logits_eval = net(x, levels)
        net.train()
        logits_train = net(x)
    io = {"x": x, "logits_eval": logits_eval, "logits_train": logits_train, **{f"level.{k}": v for k, v in levels.items()}}
    save_safetensors(os.path.join(args.out, "unet-tiny.io.safetensors"), io, {"torch": torch.__version__})
    print(f"wrote {args.out}/unet-tiny.safetensors and unet-tiny.io.safetensors (torch {torch.__version__})")


if __name__ == "__main__":
    main()
