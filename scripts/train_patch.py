"""Train the adversarial patch shipped in data/patches/ (seeded, reproducible on one device).

    python scripts/train_patch.py --steps 150 --imgsz 640 --seed 0

Trains against the default detector on the two bundled sample frames, writes
``data/patches/<id>.png`` and records its SHA-256, the model's SHA-256, the seed and the
settings in ``data/patches/patches.yaml``; prints the pedestrian recall with the patch.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    from secmlops_core.attacks.frames import bgr_to_nchw, load_source, to_attack_frame
    from secmlops_core.attacks.model import attack_device, load_attack_model
    from secmlops_core.attacks.patch import PATCH_DIR, PATCH_INDEX, apply_patch, patch_png, train_patch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--size", type=int, default=64, help="patch side in pixels")
    parser.add_argument("--scale", type=float, default=0.6, help="patch side as a share of the box width")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", default=None)
    args = parser.parse_args(argv)

    model = load_attack_model(args.weights)
    frames = []
    for name in ("bus", "zidane"):
        x = bgr_to_nchw(to_attack_frame(load_source(f"sample:{name}"), args.imgsz))
        frames.append((x, [d.box for d in model.predict(x)[0].detections if d.is_pedestrian]))
    started = time.perf_counter()

    def progress(step, loss):
        if step % 10 == 0 or step == args.steps:
            print(f"step {step}/{args.steps} loss {loss:.4f} ({time.perf_counter() - started:.0f} s)", flush=True)

    patch, history = train_patch(model, frames, args.steps, size=args.size, scale=args.scale, seed=args.seed,
                                 on_progress=progress)
    before = sum(len(b) for _, b in frames)
    after = sum(model.predict(apply_patch(x, patch, b, args.scale))[0].pedestrians for x, b in frames)
    png = patch_png(patch)
    patch_id = f"{model.model_id}-vanish"
    (PATCH_DIR / f"{patch_id}.png").write_bytes(png)
    entry = {"id": patch_id, "file": f"{patch_id}.png", "sha256": hashlib.sha256(png).hexdigest(),
             "model_id": model.model_id, "model_sha256": model.sha256, "seed": args.seed, "steps": args.steps,
             "imgsz": args.imgsz, "size": args.size, "scale": args.scale, "device": attack_device(),
             "final_loss": history[-1], "pedestrians_clean": before, "pedestrians_patched": after,
             "command": f"python scripts/train_patch.py --steps {args.steps} --imgsz {args.imgsz} "
                        f"--size {args.size} --scale {args.scale} --seed {args.seed}"}
    index = yaml.safe_load(PATCH_INDEX.read_text()) if PATCH_INDEX.is_file() else {}
    patches = [p for p in (index or {}).get("patches", []) if p["id"] != patch_id] + [entry]
    PATCH_INDEX.write_text("# Precomputed adversarial patches; regenerate with the command of each entry.\n"
                           + yaml.safe_dump({"patches": patches}, sort_keys=False))
    print(f"pedestrians on the sample frames: {before} clean -> {after} patched; wrote {patch_id}.png "
          f"sha256={entry['sha256']} in {time.perf_counter() - started:.0f} s on {attack_device()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
