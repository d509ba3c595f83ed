"""What the arms of a claim differ in, read off their composed configs: a claim may only
compare arms that differ in the factor it names."""

from pathlib import Path

from omegaconf import OmegaConf

from alexnet.run.cli import compose

ROOT = Path(__file__).resolve().parents[2]
IGNORED = ("seed", "hydra", "paths", "tags")  # not part of what a run learns


def flat(tree: object, prefix: str = "") -> dict[str, object]:
    """A nested config as ``{"a.b.c": value}``."""
    if isinstance(tree, dict):
        pairs: dict[str, object] = {}
        for key, value in tree.items():
            pairs.update(flat(value, f"{prefix}{key}."))
        return pairs
    return {prefix[:-1]: tree}


def composed(overrides: list[str], config_name: str = "train") -> dict[str, object]:
    """The resolved config that ``python <config_name>.py *overrides`` would run."""
    cfg = compose(ROOT / "configs", config_name, ["paths.output_dir=/dev/null", *overrides])
    tree = OmegaConf.to_container(cfg, resolve=True)
    return {k: v for k, v in flat(tree).items() if k.split(".")[0] not in IGNORED}


def differences(configs: list[dict[str, object]]) -> dict[str, list]:
    """Each key whose value is not the same in every config, with its values in order."""
    keys = sorted(set().union(*configs))
    return {
        k: [c.get(k) for c in configs] for k in keys if len({repr(c.get(k)) for c in configs}) > 1
    }


def check_factor(
    factor: frozenset[str], arm_overrides: list[list[str]], config_name: str = "train"
) -> dict[str, list]:
    """The keys the arms differ in (values in arm order); a ValueError when one of them
    is not part of ``factor``."""
    differing = differences([composed(o, config_name) for o in arm_overrides])
    outside = sorted(set(differing) - factor)
    if not differing:
        raise ValueError("the arms do not differ at all")
    if outside:
        shown = "; ".join(f"{k}: {differing[k]}" for k in outside)
        raise ValueError(f"the arms differ in more than {sorted(factor)}: {shown}")
    return differing
