"""``secmlops attack``, ``secmlops evaluate`` and ``secmlops candidates``."""

from __future__ import annotations

import json
import shutil
import sys

from secmlops_core.attacks.specs import ATTACKS, DEFENSES, PRESETS

EVAL_DEFAULT_ATTACKS = ("fgsm", "pgd-vanish")


def register(subparsers) -> None:
    """Add the attack-lab subcommands."""
    attack = subparsers.add_parser("attack", help="run an attack on an image against the detector")
    attack.add_argument("image", metavar="IMAGE", help="image file, or sample:bus / sample:zidane / camera:<id>")
    attack.add_argument("--attack", required=True, choices=list(ATTACKS))
    attack.add_argument("--preset", choices=PRESETS)
    attack.add_argument("--eps", type=float, help="L-infinity budget in [0, 1] (e.g. 0.0314 = 8/255)")
    attack.add_argument("--step", type=float, help="PGD step size")
    attack.add_argument("--steps", type=int, help="PGD iterations (at most 500)")
    attack.add_argument("--imgsz", type=int, help="long side of the attacked frame (default 640)")
    attack.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="any other parameter")
    attack.add_argument("--defense", action="append", default=[], choices=list(DEFENSES))
    attack.add_argument("--adaptive", action="store_true", help="also attack through each defense (BPDA)")
    attack.add_argument("--weights")
    attack.add_argument("--threat", help="threat id to attach the result to as evidence")
    attack.add_argument("--pipeline", help="pipeline id of that threat")
    attack.add_argument("--report-to-operations", action="store_true",
                        help="open an operations incident for this run (needs permission 'manage_incidents'); "
                             "without it the run is demo evidence only")
    attack.add_argument("--json", action="store_true")
    attack.add_argument("-o", "--output", help="write the attacked frame here (PNG keeps the perturbation exact)")
    attack.set_defaults(handler=_attack)

    evaluate = subparsers.add_parser("evaluate", help="robustness trade-off table over an image folder (a gate)")
    evaluate.add_argument("--images", required=True, help="folder of images (or 'samples' for the bundled ones)")
    evaluate.add_argument("--labels", help="folder of YOLO-format labels (<stem>.txt); default: clean-model detections")
    evaluate.add_argument("--attacks", nargs="+", default=list(EVAL_DEFAULT_ATTACKS))
    evaluate.add_argument("--defenses", nargs="*", default=["jpeg", "median"], choices=list(DEFENSES))
    evaluate.add_argument("--preset", choices=PRESETS, default="subtle")
    evaluate.add_argument("--imgsz", type=int, default=640)
    evaluate.add_argument("--adaptive", action="store_true")
    evaluate.add_argument("--hardened", nargs="*", default=[], metavar="CANDIDATE",
                          help="adversarially trained candidates to add as rows (see `secmlops harden`)")
    evaluate.add_argument("--min-robust-recall", type=float, help="gate: exit 1 when the worst robust recall is lower")
    evaluate.add_argument("--gate-defense", default="none", help="the row the gate checks (default: none)")
    evaluate.add_argument("--pipeline", help="pipeline id the evidence belongs to (default: the live detector's)")
    evaluate.add_argument("--weights")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(handler=_evaluate)

    harden = subparsers.add_parser("harden", help="training-time defense: adversarially fine-tune a candidate model")
    harden.add_argument("--eps", type=float, help="FGSM budget of the training examples (default 8/255)")
    harden.add_argument("--epochs", type=int, help="passes over the fine-tuning set (default 2)")
    harden.add_argument("--samples", type=int, help="augmented crops in the fine-tuning set (default 24)")
    harden.add_argument("--imgsz", type=int, help="training image size (default 320)")
    harden.add_argument("--lr", type=float, help="SGD learning rate (default 0.002)")
    harden.add_argument("--weights", help="base model (default: the configured weights)")
    harden.add_argument("--json", action="store_true")
    harden.set_defaults(handler=_harden)

    candidates = subparsers.add_parser("candidates", help="models produced by poisoning / adversarial fine-tunes")
    sub = candidates.add_subparsers(dest="candidates_command", metavar="ACTION")
    listing = sub.add_parser("list", help="list candidate models")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_candidates_list)
    promote = sub.add_parser("promote", help="register a candidate in the weights registry (recorded)")
    promote.add_argument("candidate_id")
    promote.add_argument("--operator", required=True)
    promote.add_argument("--reason", required=True)
    promote.add_argument("--yes", action="store_true", help="confirm the promotion")
    promote.set_defaults(handler=_candidates_promote)


def _raw_params(args) -> dict:
    from secmlops_core.errors import UserFacingError

    raw = {"eps": args.eps, "step": args.step, "steps": args.steps, "imgsz": args.imgsz}
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep:
            raise UserFacingError(f"--param expects NAME=VALUE, got {item!r}")
        raw[name.strip()] = value.strip()
    spec = ATTACKS[args.attack]
    names = {p.name for p in spec.params}
    unknown = [k for k, v in raw.items() if v is not None and k not in names]
    if unknown:
        raise UserFacingError(f"{args.attack} has no parameter(s) {', '.join(unknown)} (it takes {', '.join(sorted(names))})")
    return {k: v for k, v in raw.items() if v is not None}


def _attack(args) -> int:
    from secmlops_core.attacks.model import job_resource
    from secmlops_core.attacks.runs import AttackRequest, check_report_permission, execute_attack, get_run, remote_attack
    from secmlops_core.jobs import get_job_manager

    ref = args.image if ":" in args.image.split("/")[0] else args.image
    request = AttackRequest(attack=args.attack, image_ref=ref, params=_raw_params(args), preset=args.preset,
                            defenses=tuple(args.defense), adaptive=args.adaptive, weights=args.weights,
                            pipeline_id=args.pipeline, threat_id=args.threat,
                            report_to_operations=args.report_to_operations)
    checked = request.check()
    check_report_permission(checked)
    manager = get_job_manager()
    holder = {}

    def work(ctx):
        holder["run"] = execute_attack(checked, None, ctx, manager.store)
        return {"run_id": holder["run"].run_id}

    job = manager.run_inline(f"attack:{args.attack}", work, title=f"{args.attack} on {ref} (CLI)",
                             params={**checked.params, "report_to_operations": checked.report_to_operations},
                             resource=job_resource(), time_limit_s=3600,
                             remote=remote_attack(checked, None, manager))
    if job.status != "succeeded":
        from secmlops_core.errors import UserFacingError

        raise UserFacingError(job.error or f"the attack {job.status}")
    run = holder.get("run") or get_run(manager.store, job.result["run_id"])  # a Ray run was stored from its result
    if args.output and run.thumbnails.get("attacked_png"):
        shutil.copyfile(run.thumbnails["attacked_png"], args.output)
    if args.json:
        print(json.dumps({"run_id": run.run_id, "attack": run.attack, "params": run.params, "device": run.device,
                          "reported_to_operations": run.reported_to_operations,
                          "model": run.model_id, "durations": run.durations, "metrics": run.metrics,
                          "result": run.result,
                          "job": {"id": job.job_id, "executor": "ray" if job.node else "in-process",
                                  "node": job.node, "device": job.device}}, indent=2, default=str))
        return 0
    _print_run(run)
    if job.node:
        print(f"  ran on Ray node {job.node}, device {job.device}")
    return 0


def _print_run(run) -> None:
    m, r = run.metrics, run.result
    print(f"{ATTACKS[run.attack].title} on {run.image_ref} [{run.model_id}] device={run.device} run={run.run_id}")
    print(f"  setting: {m.get('setting', '')}")
    for side in ("clean", "attacked"):
        items = ", ".join(f"{d['label']} {d['confidence']:.2f}" for d in r.get(side, [])) or "nothing"
        print(f"  {side:<9} {m.get(side + '_pedestrians', '?')} pedestrian(s): {items}")
    print(f"  recall vs clean {m.get('recall')}, class kept {m.get('class_kept')}, new pedestrians "
          f"{m.get('new_pedestrians')}, Linf {m.get('linf')}, goal {m.get('goal')}: "
          f"{'reached' if m.get('success') else 'not reached'}")
    if "candidate_id" in m:
        print(f"  candidate {m['candidate_id']} (not live; promote with `secmlops candidates promote`): "
              f"clean recall {m['clean_recall']}, triggered recall {m['triggered_recall']} "
              f"(base model {m['base_triggered_recall']})")
    for row in r.get("defended", []):
        line = (f"  defense {row['defense']:<8} clean {row['clean']['pedestrians']} ped, attacked (non-adaptive) "
                f"{row['non_adaptive']['pedestrians']} ped")
        if "adaptive" in row:
            line += f", attacked (adaptive BPDA) {row['adaptive']['pedestrians']} ped"
        print(line + f", overhead {row['overhead_ms']:.0f} ms")
    timings = ", ".join(f"{k} {v}" for k, v in run.durations.items())
    print(f"  timings: {timings}")
    print("  reported to operations: an incident opens at the next alert evaluation" if run.reported_to_operations
          else "  demo run: evidence only, no operations incident (--report-to-operations to open one)")


def _evaluate(args) -> int:
    from secmlops_core.attacks.evaluation import apply_gate, evaluate, image_files, store_evaluation
    from secmlops_core.attacks.frames import sample_images
    from secmlops_core.detector.images import load_image_file
    from secmlops_core.errors import UserFacingError
    from secmlops_core.jobs import get_job_manager

    if args.min_robust_recall is not None and not 0 <= args.min_robust_recall <= 1:
        raise UserFacingError("--min-robust-recall must be between 0 and 1")
    images = sample_images() if args.images == "samples" else [(p.name, load_image_file(p)) for p in image_files(args.images)]
    manager = get_job_manager()
    holder = {}
    params = {"attacks": args.attacks, "defenses": args.defenses, "preset": args.preset, "imgsz": args.imgsz,
              "adaptive": args.adaptive, "images": args.images, "labels": args.labels}

    def work(ctx):
        evaluation = evaluate(images, args.attacks, args.defenses, labels_dir=args.labels, imgsz=args.imgsz,
                              preset=args.preset, adaptive=args.adaptive, weights=args.weights,
                              hardened=args.hardened, ctx=ctx)
        apply_gate(evaluation, args.min_robust_recall, args.gate_defense)
        store_evaluation(manager.store, evaluation, params, ctx.job_id, pipeline_id=args.pipeline)
        holder["evaluation"] = evaluation
        return {"evaluation_id": evaluation.evaluation_id}

    job = manager.run_inline("evaluation", work, title=f"robustness evaluation of {args.images} (CLI)", params=params,
                             time_limit_s=6 * 3600)
    if job.status != "succeeded":
        raise UserFacingError(job.error or f"the evaluation {job.status}")
    evaluation = holder["evaluation"]
    if args.json:
        print(json.dumps(evaluation.to_dict(), indent=2, default=str))
    else:
        _print_evaluation(evaluation)
    return 1 if evaluation.gate and not evaluation.gate["passed"] else 0


def _fmt(value) -> str:
    return "   –  " if value is None else f"{value:6.3f}"


def _print_evaluation(e) -> None:
    reference = "labels" if e.basis == "labels" else "the clean model's detections"
    print(f"Robustness over {e.images} image(s), {e.reference_pedestrians} reference pedestrian(s) from {reference}; "
          f"{e.model_id} on {e.device}; {e.seconds:.1f} s")
    print(f"({e.settings_note})")
    header = f"{'defense':<10} {'clean R':>7} {'clean P':>7} " + " ".join(f"{a[:12]:>12}" for a in e.attacks)
    adaptive = any(r["robust_recall_adaptive"] for r in e.rows)
    if adaptive:
        header += " " + " ".join(f"{(a[:10] + '*'):>12}" for a in e.attacks)
    print(header + f" {'latency':>9} {'overhead':>9}")
    for row in e.rows:
        line = f"{row['defense'].replace('model:', 'adv:'):<10} {_fmt(row['clean_recall']):>7} {_fmt(row['clean_precision']):>7} "
        line += " ".join(f"{_fmt(row['robust_recall'][a]):>12}" for a in e.attacks)
        if adaptive:
            line += " " + " ".join(f"{_fmt(row['robust_recall_adaptive'].get(a)):>12}" for a in e.attacks)
        print(line + f" {row['latency_ms']:>7.0f}ms {row['overhead_ms']:>+7.0f}ms")
    if adaptive:
        print("* adaptive: the attack was computed through that defense (BPDA)")
    flags = ", ".join(f"{k.removeprefix('flagged_')} {v:.0%}" for k, v in e.instability.items())
    print(f"instability detector flagged: {flags}")
    if e.gate:
        verdict = "PASSED" if e.gate["passed"] else "FAILED"
        print(f"gate {verdict}: worst robust recall {e.gate['worst_robust_recall']} on row {e.gate['defense']!r}, "
              f"minimum {e.gate['min_robust_recall']}")


def _harden(args) -> int:
    from secmlops_core.attacks.specs import check_hardening_params
    from secmlops_core.attacks.hardening import JOB_KIND, adversarial_training
    from secmlops_core.attacks.model import job_resource
    from secmlops_core.errors import UserFacingError
    from secmlops_core.jobs import get_job_manager

    params = check_hardening_params({"eps": args.eps, "epochs": args.epochs, "samples": args.samples,
                                     "imgsz": args.imgsz, "lr": args.lr})
    manager = get_job_manager()
    holder = {}

    def work(ctx):
        holder["out"] = adversarial_training(params, ctx, manager.store, args.weights)
        return {"candidate_id": holder["out"]["candidate_id"], "metrics": holder["out"]["metrics"]}

    job = manager.run_inline(JOB_KIND, work, title="adversarial training (CLI)", params=params,
                             resource=job_resource(), time_limit_s=6 * 3600)
    if job.status != "succeeded":
        raise UserFacingError(job.error or f"the fine-tune {job.status}")
    out = holder["out"]
    if args.json:
        print(json.dumps({k: v for k, v in out.items() if k != "loss_history"}, indent=2))
        return 0
    m = out["metrics"]
    print(f"candidate {out['candidate_id']} (sha256 {out['sha256'][:16]}…), not live until promoted; device {m['device']}")
    print(f"  robust recall under FGSM eps {params['eps']:.4f}: base {m['base_robust_recall_fgsm']} -> "
          f"candidate {m['robust_recall_fgsm']}")
    print(f"  clean recall: base {m['base_clean_recall']} -> candidate {m['clean_recall']}; latency "
          f"{m['base_latency_ms']} -> {m['latency_ms']} ms per frame; training {m['train_s']} s")
    print(f"  ({m['setting']})")
    return 0


def _candidates_list(args) -> int:
    from dataclasses import asdict

    from secmlops_core.attacks.finetune import list_candidates
    from secmlops_core.store import get_store

    found = list_candidates(get_store())
    if args.json:
        print(json.dumps([asdict(c) for c in found], indent=2, default=str))
        return 0
    for c in found:
        state = f"promoted by {c.promoted_by}" if c.promoted_at else "not live"
        print(f"{c.candidate_id:<34} {c.kind:<26} {c.sha256[:16]}…  {state}  {json.dumps(c.metrics)[:120]}")
    if not found:
        print("no candidate models yet", file=sys.stderr)
    return 0


def _candidates_promote(args) -> int:
    from secmlops_core.attacks.finetune import promote_candidate
    from secmlops_core.store import get_store

    candidate = promote_candidate(get_store(), args.candidate_id, args.operator, args.reason, confirm=args.yes)
    print(f"promoted {candidate.candidate_id} (sha256 {candidate.sha256}) into the weights registry; the live feed "
          f"keeps its weights until started with --weights {candidate.candidate_id}")
    return 0
