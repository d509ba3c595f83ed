"""What a training run is — its identity, recorded in every checkpoint — and what may
differ between a run and a command that continues it.

The identity: the model and the data (the spec's parts, their class count settled),
what trains the model (the seed, the optimizer, the scheduler, the label smoothing,
the trainer's options), the code's version, the data's fingerprint (class names in
order, images per split, a digest of their contents) and, for a sweep's trial, its
study. A resume whose identity differs is refused in one line naming each difference.
"""

import importlib.metadata
from typing import Any

from alexnet.checkpoints.record import Record
from alexnet.errors import UserError
from alexnet.spec import Parts, TrainSpec

#: What may differ between a run and its resume: where and how it runs, not what it
#: trains — the devices and processes, the loaders' workers and caches, where the data
#: lies (its fingerprint says whether it is the same data), a longer run (more epochs:
#: the schedule follows), validation's frequency and share. The loggers, callbacks,
#: fault tolerance, test, lr_find, compile and channels_last are no part of the
#: identity at all.
DATA_MAY_DIFFER = """num_workers pin_memory persistent_workers on_device cache_dir check_files
    train_eval_size root prepared.dir prepared.uri"""
TRAINER_MAY_DIFFER = """accelerator devices num_nodes strategy sync_batchnorm max_epochs min_epochs
    max_steps min_steps max_time default_root_dir enable_progress_bar enable_model_summary
    enable_checkpointing log_every_n_steps check_val_every_n_epoch val_check_interval
    limit_val_batches limit_test_batches num_sanity_val_steps deterministic benchmark profiler"""
MAY_DIFFER = frozenset(
    [
        *(f"data.{key}" for key in DATA_MAY_DIFFER.split()),
        *(f"trainer.{key}" for key in TRAINER_MAY_DIFFER.split()),
        "scheduler.max_epochs",  # follows trainer.max_epochs
    ]
)


def may_differ(key: str) -> bool:
    """Whether ``key`` (or the option it is part of: ``trainer.strategy.timeout``) may
    differ on resume."""
    parts = key.split(".")
    return any(".".join(parts[:n]) in MAY_DIFFER for n in range(1, len(parts) + 1))


def code_version() -> str:
    return importlib.metadata.version("alexnet-lab")


def training(spec: TrainSpec, parts: Parts) -> dict[str, Any]:
    """What trains the model, as a checkpoint records it (``Record.training``)."""
    return {
        "seed": spec.seed,
        "optimizer": spec.optimizer,
        "scheduler": spec.scheduler,
        "label_smoothing": spec.label_smoothing,
        "trainer": spec.trainer,
        "model.freeze": parts.model.freeze,
        "code": code_version(),
    }


def flat(value: Any, prefix: str) -> dict[str, Any]:
    """Nested dicts as ``{"a.b": value}``; a part's ``kwargs`` level left out, as the
    config names its keys (``model.dropout``)."""
    if not isinstance(value, dict):
        return {prefix: value}
    found: dict[str, Any] = {}
    for key, item in value.items():
        found.update(flat(item, prefix if key == "kwargs" else f"{prefix}.{key}"))
    return found


Identity = dict[str, dict[str, Any]]  # section → its keys, flat


def identity(
    parts: Parts, trained: dict | None, fingerprint: dict | None, study: dict | None
) -> Identity:
    """The identity by section; a section that is None (a format-2 checkpoint's, a run
    that is no trial's) is left out."""
    sections = {
        "model": {"name": parts.model.name, "kwargs": parts.model.kwargs},
        "data": parts.data.model_dump(),
        **(trained or {}),
        "data fingerprint": fingerprint,
        "study": study,
    }
    return {
        name: {k: v for k, v in flat(section, name).items() if not may_differ(k)}
        for name, section in sections.items()
        if section is not None
    }


def recorded_identity(record: Record) -> Identity:
    fingerprint = record.fingerprint.model_dump() if record.fingerprint else None
    parts = Parts(model=record.model.model_dump(), data=record.data)
    return identity(parts, record.training, fingerprint, record.study)


def shown(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def differences(recorded: Identity, current: Identity) -> list[str]:
    """``key: recorded → current`` for each key whose values differ, in the sections
    both have; of another model or dataset, its name alone (and no data fingerprint)."""
    renamed = [
        part
        for part in ("model", "data")
        if recorded[part].get(f"{part}.name") != current[part].get(f"{part}.name")
    ]
    found = []
    for section in sorted(recorded.keys() & current.keys()):
        before, now = recorded[section], current[section]
        keys = sorted(before.keys() | now.keys())
        for part in renamed:
            keys = [k for k in keys if k == f"{part}.name" or not k.startswith(part)]
        for key in keys:
            if before.get(key) != now.get(key):
                found.append(f"{key}: {shown(before.get(key, '-'))} → {shown(now.get(key, '-'))}")
    return found


def listed(classes: list[str]) -> str:
    return (
        str(classes)
        if len(classes) <= 10
        else f"{str(classes[:10])[:-1]}, ... {len(classes)} in all]"
    )


def class_map(trained: list[str], data: list[str], where: str) -> list[int] | None:
    """How the classes of ``data`` (the class names of ``where``) index a checkpoint's
    output, trained on the classes ``trained``: None when they are the same; a list
    when they are some of them, in any order (mapped by name); otherwise a UserError
    naming both."""
    if data == trained:
        return None
    if not set(data) <= set(trained) or len(set(data)) != len(data):
        raise UserError(
            f"the classes of {where}, {listed(data)}, are not the checkpoint's, "
            f"{listed(trained)}: give data the model was trained on (or some of its classes)"
        )
    return [trained.index(name) for name in data]
