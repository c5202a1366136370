"""Python reference for bench/pipeline: the CPU/GPU-decoupled pipeline as the seed writes it.

A thread pool decodes (OpenCV), a bounded queue feeds a GPU thread that runs the classic recipe
with CuPy (normalise, Gaussian sigma 1, central-difference gradient at full and half scale fused by
maximum, threshold, 3x3 closing, 8-connected labelling, per-component area / bbox / mean gradient
by scatter ops on the GPU), and the main thread writes items and defects to SQLite.

Usage: python3 bench/pipeline/reference.py IMAGE_DIR DB_PATH [threads] [batch]
Prints one JSON line: {"images": n, "seconds": s, "images_per_second": r, "defects": d}
"""
import json
import os
import queue
import sqlite3
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

if os.environ.get("KENSA_REF_NUMPY") == "1":
    # self-check of detect() on a machine without CUDA: NumPy/SciPy have the same API
    import scipy.ndimage as ndi

    cp = np

    def scatter_min(a, i, v):
        np.minimum.at(a, i, v)

    def scatter_max(a, i, v):
        np.maximum.at(a, i, v)

    def to_host(a):
        return a

else:
    import cupy as cp
    import cupyx
    import cupyx.scipy.ndimage as ndi

    scatter_min, scatter_max = cupyx.scatter_min, cupyx.scatter_max

    def to_host(a):
        return a.get()

THRESHOLD = 0.05
MIN_AREA = 16


def detect(batch):
    x = cp.asarray(batch).astype(cp.float32) / 255.0
    x = ndi.gaussian_filter(x, sigma=(0, 1, 1), mode="mirror", truncate=3.0)

    def grad(a):
        gx = (ndi.shift(a, (0, 0, -1), order=0, mode="mirror") - ndi.shift(a, (0, 0, 1), order=0, mode="mirror")) * 0.5
        gy = (ndi.shift(a, (0, -1, 0), order=0, mode="mirror") - ndi.shift(a, (0, 1, 0), order=0, mode="mirror")) * 0.5
        return cp.sqrt(gx * gx + gy * gy)

    g = grad(x)
    half = ndi.zoom(x, (1, 0.5, 0.5), order=1, grid_mode=True, mode="nearest")
    g = cp.maximum(g, ndi.zoom(grad(half), (1, 2, 2), order=1, grid_mode=True, mode="nearest")[:, : g.shape[1], : g.shape[2]])
    mask = g > THRESHOLD
    mask = ndi.binary_closing(mask, structure=cp.ones((1, 3, 3), dtype=bool))
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True
    labels, count = ndi.label(mask, structure=structure)
    count = int(count)
    results = []
    if count:
        flat = labels.ravel()
        fg = flat > 0
        lab = flat[fg]
        # int32 throughout: CuPy's scatter_min/max support it on every version
        idx = cp.nonzero(fg)[0].astype(cp.int32)
        n, h, w = labels.shape
        ys = (idx // w) % h
        xs = idx % w
        area = cp.bincount(lab, minlength=count + 1)
        gsum = cp.bincount(lab, weights=g.ravel()[fg], minlength=count + 1)
        big = np.iinfo(np.int32).max
        x0 = cp.full(count + 1, big, dtype=cp.int32)
        y0 = cp.full(count + 1, big, dtype=cp.int32)
        x1 = cp.zeros(count + 1, dtype=cp.int32)
        y1 = cp.zeros(count + 1, dtype=cp.int32)
        img = cp.zeros(count + 1, dtype=cp.int32)
        scatter_min(x0, lab, xs)
        scatter_min(y0, lab, ys)
        scatter_max(x1, lab, xs)
        scatter_max(y1, lab, ys)
        scatter_max(img, lab, idx // (h * w))
        keep = cp.nonzero(area >= MIN_AREA)[0]
        rows = to_host(cp.stack([img[keep], x0[keep], y0[keep], x1[keep] - x0[keep] + 1, y1[keep] - y0[keep] + 1, area[keep], gsum[keep] / area[keep]], 1))
        results = rows.tolist()
    return results


def main():
    import cv2

    image_dir, db_path = sys.argv[1], sys.argv[2]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else os.cpu_count()
    batch_size = int(sys.argv[4]) if len(sys.argv) > 4 else 16
    files = sorted(os.path.join(image_dir, f) for f in os.listdir(image_dir))
    if os.path.exists(db_path):
        os.remove(db_path)
    db = sqlite3.connect(db_path)
    db.execute("pragma journal_mode=wal")
    db.execute("create table items (key text primary key, status text, defects integer)")
    db.execute("create table defects (key text, idx integer, x integer, y integer, w integer, h integer, area integer, mean_gradient real)")
    decoded = queue.Queue(maxsize=4 * batch_size)
    done = queue.Queue()
    # CuPy compiles its kernels on first use: one untimed batch first (its result is read back, so
    # the GPU is done with it; kensa's side warms up likewise)
    detect(np.stack([cv2.imread(f, cv2.IMREAD_GRAYSCALE) for f in files[:batch_size]]))
    start = time.perf_counter()

    def decode(path):
        decoded.put((path, cv2.imread(path, cv2.IMREAD_GRAYSCALE)))

    # a thread that fails hands its exception to the main thread instead of dying silently
    def feeder():
        try:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(decode, files))
        finally:
            decoded.put(None)

    def gpu():
        try:
            batch = []
            while True:
                item = decoded.get()
                if item is not None:
                    batch.append(item)
                if batch and (item is None or len(batch) == batch_size):
                    rows = detect(np.stack([b[1] for b in batch]))
                    done.put(([b[0] for b in batch], rows))
                    batch = []
                if item is None:
                    done.put(None)
                    return
        except BaseException as e:  # noqa: BLE001
            done.put(e)

    threading.Thread(target=feeder, daemon=True).start()
    threading.Thread(target=gpu, daemon=True).start()
    images = defects = 0
    while True:
        got = done.get()
        if got is None:
            break
        if isinstance(got, BaseException):
            raise got
        keys, rows = got
        per = {}
        for r in rows:
            per.setdefault(int(r[0]), []).append(r)
        with db:
            for i, k in enumerate(keys):
                ds = per.get(i, [])
                db.execute("insert into items values (?, ?, ?)", (k, "ng" if ds else "ok", len(ds)))
                db.executemany("insert into defects values (?, ?, ?, ?, ?, ?, ?, ?)", [(k, j, int(d[1]), int(d[2]), int(d[3]), int(d[4]), int(d[5]), float(d[6])) for j, d in enumerate(ds)])
                defects += len(ds)
        images += len(keys)
    seconds = time.perf_counter() - start
    print(json.dumps({"images": images, "seconds": seconds, "images_per_second": images / seconds, "defects": defects}))


if __name__ == "__main__":
    # a failed thread leaves the decode pool blocked on the full queue, and interpreter exit would
    # join it forever: report and leave at once
    try:
        main()
    except BaseException:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)
