"""cupyx.scipy.ndimage.label on masks written by components.bench.ts. Prints {cupy_ms, components}."""
import json
import sys

import cupy as cp
import cupyx.scipy.ndimage as ndi
import numpy as np

path, n, h, w, conn = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
mask = cp.asarray(np.fromfile(path, dtype=np.uint8).reshape(n, h, w) > 0)
structure = np.zeros((3, 3, 3), dtype=bool)  # no connection across images of the batch
structure[1] = np.ones((3, 3), dtype=bool) if conn == 8 else np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)
for _ in range(3):
    labels, count = ndi.label(mask, structure=structure)
cp.cuda.Device().synchronize()
times = []
for _ in range(20):
    start, end = cp.cuda.Event(), cp.cuda.Event()
    start.record()
    labels, count = ndi.label(mask, structure=structure)
    end.record()
    end.synchronize()
    times.append(cp.cuda.get_elapsed_time(start, end))
times.sort()
print(json.dumps({"cupy_ms": times[len(times) // 2], "components": int(count)}))
