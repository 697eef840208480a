"""Peak memory of deep-model inference on a 4K image, tiled, against the stated bound.

Each figure comes from a fresh process (peak resident set size, ``ru_maxrss``):

- ``inputs``: torch and the model loaded, the H x W x 3 float64 image and the trimap made;
- ``one tile``: the same plus one untiled inference on a T x T crop (the network's
  activations on a tile, A(T), and that crop's own buffers);
- ``tiled``: the same as ``inputs`` plus :func:`mattebox.models.base.predict_alpha` on the
  whole image in T x T tiles, every pixel unknown (every tile runs: the worst case).

The bound stated in :mod:`mattebox.models.base`: tiled - inputs <= 24 bytes per padded pixel
(plus 8 per channel of whole-image inputs: 56 for DIM with colour hints, as the shipped
weights have) + A(T), with A(T) taken as (one tile - inputs). Usage::

    python benchmarks/tiled_inference_memory.py [--width 3840 --height 2160 --tile 1024]
        [--weights src/mattebox/weights/dim_small.pt]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _child(mode: str, width: int, height: int, tile: int, weights: str | None) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from mattebox.models import build_model, load_weights
    from mattebox.models.base import predict_alpha

    if weights:
        model = load_weights(weights)
    else:
        torch.manual_seed(0)
        model = build_model("dim", widths=[16, 32, 64, 128, 256], refine_width=16).eval()
    rng = np.random.default_rng(0)
    image = rng.random((height, width, 3))
    trimap = np.full((height, width), 0.5)
    began = time.perf_counter()
    if mode == "one_tile":  # the same inputs, one tile-sized crop run untiled
        alpha = predict_alpha(model, image[:tile, :tile], trimap[:tile, :tile], tile_size=None)
    elif mode == "tiled":
        alpha = predict_alpha(model, image, trimap, tile_size=tile)
        assert alpha.shape == (height, width)
    seconds = time.perf_counter() - began
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    extra = int(getattr(model, "whole_image_channels", 0))
    print(json.dumps({"mode": mode, "peak_mib": peak_kib / 1024, "seconds": seconds, "extra_channels": extra}))


def _run(mode: str, args) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--width", str(args.width), "--height",
               str(args.height), "--tile", str(args.tile)]
    if args.weights:
        command += ["--weights", args.weights]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=int, default=3840)
    parser.add_argument("--height", type=int, default=2160)
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--weights")
    parser.add_argument("--child")
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.width, args.height, args.tile, args.weights)
        return 0
    from mattebox.models.base import padded_size

    inputs, one_tile, tiled = (_run(mode, args) for mode in ("inputs", "one_tile", "tiled"))
    padded = padded_size(args.height) * padded_size(args.width)
    activations = one_tile["peak_mib"] - inputs["peak_mib"]
    per_pixel = 24 + 8 * tiled["extra_channels"]  # whole-image inputs: 8 bytes a channel
    bound = per_pixel * padded / 2**20 + activations
    used = tiled["peak_mib"] - inputs["peak_mib"]
    print(f"image {args.width}x{args.height}, tile {args.tile}, DIM small, 1 thread")
    print(f"peak with inputs only      {inputs['peak_mib']:8.0f} MiB")
    print(f"one {args.tile}x{args.tile} inference     {one_tile['peak_mib']:8.0f} MiB "
          f"({one_tile['seconds']:.1f} s)")
    print(f"tiled 4K inference         {tiled['peak_mib']:8.0f} MiB ({tiled['seconds']:.1f} s)")
    print(f"tiled minus inputs         {used:8.0f} MiB; stated bound {bound:.0f} MiB "
          f"({per_pixel} B/px x {padded / 1e6:.1f} Mpx + one tile's working memory {activations:.0f} MiB)")
    return 0 if used <= bound else 1


if __name__ == "__main__":
    sys.exit(main())
