"""The last attack-lab demo in a few words, for the ops wall's own demo tile (apart from operations)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from secmlops_core.attacks.runs import AttackRun, list_runs
from secmlops_core.attacks.specs import ATTACKS, DEFENSES
from secmlops_core.evidence import list_evidence
from secmlops_core.store import Store

GOAL_WORDS = {
    "vanish": "make pedestrians vanish", "ghost": "add ghost pedestrians", "flip": "relabel pedestrians",
    "hide": "hide the patched pedestrians", "misclassify": "fool the crop classifier",
    "backdoor": "plant a backdoor in a candidate model", "label-flip": "poison a candidate model's labels",
}


@dataclass(frozen=True)
class DemoSummary:
    """One attack-lab run as the wall's demo tile shows it."""

    run_id: str
    attack: str  # attack id, e.g. "pgd-vanish"
    attack_title: str  # e.g. "PGD vanish"
    target: str  # what was attacked, as recorded: "sample:bus", "camera:sample-1", "upload:street.jpg"
    target_label: str  # the same in words: "sample image bus", "latest frame of camera sample-1"
    goal: str
    goal_reached: bool
    outcome: str  # in words, e.g. "Goal reached (make pedestrians vanish): 4 pedestrians before, 0 after."
    pedestrians_before: int | None
    pedestrians_after: int | None
    defense: str | None  # in words, e.g. "JPEG compression: 3 pedestrians after the attack (non-adaptive)"
    device: str
    at: datetime | None
    by: str  # who launched it ("unknown" for runs recorded before this was kept)
    reported_to_operations: bool


def _target_label(image_ref: str) -> str:
    kind, _, name = image_ref.partition(":")
    return {"sample": f"sample image {name}", "camera": f"latest frame of camera {name}",
            "upload": f"uploaded image {name}"}.get(kind, image_ref)


def _count(value) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _outcome(goal_words: str, reached: bool, before: int | None, after: int | None) -> str:
    verdict = "Goal reached" if reached else "Goal not reached"
    counts = f": {before} pedestrians before, {after} after" if before is not None and after is not None else ""
    return f"{verdict} ({goal_words}){counts}."


def _defense(run: AttackRun) -> str | None:
    defended = run.result.get("defended") or []
    if defended:
        parts = []
        for row in defended:
            title = DEFENSES[row["defense"]].title if row["defense"] in DEFENSES else row["defense"]
            text = f"{title}: {row['non_adaptive']['pedestrians']} pedestrians after the attack (non-adaptive)"
            if "adaptive" in row:
                text += f", {row['adaptive']['pedestrians']} (adaptive)"
            parts.append(text)
        return "; ".join(parts)
    named = run.params.get("defenses") or []
    return ", ".join(DEFENSES[d].title if d in DEFENSES else d for d in named) or None


def _launched_by(store: Store, run: AttackRun) -> str:
    found = list_evidence(store, kind="attack_run", source_ref=f"attack_run:{run.run_id}", limit=1)
    return found[0].created_by if found and found[0].created_by != "system" else "unknown"


def summarize(store: Store, run: AttackRun) -> DemoSummary:
    """A stored run as a demo summary."""
    spec = ATTACKS.get(run.attack)
    m = run.metrics
    goal = m.get("goal") or (spec.goal if spec else "")
    before, after = _count(m.get("clean_pedestrians")), _count(m.get("attacked_pedestrians"))
    reached = bool(m.get("success"))
    return DemoSummary(
        run_id=run.run_id, attack=run.attack, attack_title=spec.title if spec else run.attack, target=run.image_ref,
        target_label=_target_label(run.image_ref), goal=goal, goal_reached=reached,
        outcome=_outcome(GOAL_WORDS.get(goal, goal), reached, before, after), pedestrians_before=before,
        pedestrians_after=after, defense=_defense(run), device=run.device, at=run.created_at,
        by=_launched_by(store, run), reported_to_operations=run.reported_to_operations)


def last_demo(store: Store) -> DemoSummary | None:
    """The latest attack-lab run that finished with a result, or None before the first one."""
    runs = list_runs(store, limit=1, status="succeeded")
    return summarize(store, runs[0]) if runs else None
