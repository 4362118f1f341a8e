"""``secmlops detect`` and ``secmlops weights ...``."""

from __future__ import annotations

import json

from secmlops_core.cli.common import add_command, command_group


def register(subparsers) -> None:
    """Add the detector subcommands."""
    detect = add_command(subparsers, "detect", "run the pedestrian detector on image files", _detect)
    detect.add_argument("images", nargs="+", metavar="IMAGE")
    detect.add_argument("--weights", help="registered weights id or checkpoint path (default: settings)")
    detect.add_argument("--conf", type=float, default=0.25, help="confidence threshold (default 0.25)")
    detect.add_argument("--json", action="store_true", help="print JSON instead of text")

    sub = command_group(subparsers, "weights", "the SHA-256-pinned detector weights registry", dest="weights_command")
    add_command(sub, "list", "list registered weights", _list, json=True)
    reg = add_command(sub, "register", "trust a checkpoint: record its SHA-256 so it may be loaded", _register)
    reg.add_argument("path")
    reg.add_argument("--id", dest="weights_id")
    reg.add_argument("--pedestrian-class", action="append", default=None,
                     help="class name or id that counts as pedestrian (repeatable; default: person, pedestrian)")
    reg.add_argument("--source", default="operator")
    reg.add_argument("--licence", default="unknown")
    reg.add_argument("--notes", default="")
    add_command(sub, "verify", "re-hash every registered file; exit 1 if one differs", _verify)


def _detect(args) -> int:
    from secmlops_core.detector.model import detect_files

    if not 0 < args.conf < 1:
        from secmlops_core.errors import UserFacingError

        raise UserFacingError("--conf must be between 0 and 1")
    results = detect_files(args.images, args.weights, conf=args.conf)
    if args.json:
        print(json.dumps([{"image": str(path), **r.to_dict()} for path, r in zip(args.images, results)], indent=2))
        return 0
    for path, result in zip(args.images, results):
        print(f"{path}: {result.pedestrians} pedestrian(s), {len(result.detections)} detection(s), "
              f"{result.latency_ms:.0f} ms on {result.device} [{result.model_id}]")
        for det in result.detections:
            x1, y1, x2, y2 = det.box
            print(f"  {det.label:<24} {det.confidence:.2f}  box=({x1:.0f}, {y1:.0f}, {x2:.0f}, {y2:.0f})")
    return 0


def _list(args) -> int:
    from dataclasses import asdict

    from secmlops_core.detector.weights import list_weights

    entries = list_weights()
    if args.json:
        print(json.dumps([asdict(e) for e in entries], indent=2, default=str))
        return 0
    for e in entries:
        kind = "built-in" if e.builtin else "operator"
        print(f"{e.id:<24} {kind:<9} {e.sha256[:16]}…  {e.resource or e.path}  ({e.licence})")
    return 0


def _register(args) -> int:
    from secmlops_core.detector.weights import register_weights

    classes = [int(c) if c.isdigit() else c for c in args.pedestrian_class] if args.pedestrian_class else None
    entry = register_weights(args.path, args.weights_id, pedestrian_classes=classes, source=args.source,
                             licence=args.licence, notes=args.notes)
    print(f"registered {entry.id}: {entry.path} sha256={entry.sha256}")
    return 0


def _verify(args) -> int:
    from secmlops_core.detector.weights import list_weights, verify_weights
    from secmlops_core.errors import UserFacingError

    failed = 0
    for entry in list_weights():
        try:
            verify_weights(entry)
            print(f"ok       {entry.id}")
        except UserFacingError as exc:
            failed += 1
            print(f"REFUSED  {entry.id}: {exc}")
    return 1 if failed else 0
