"""The docs cannot rot silently: every relative link and anchor in README.md and docs/
resolves, and every option a page names exists in a composed config. (The commands the
pages show run as written, smaller, in tests/test_docs_commands.py.)"""

import inspect
import re
from functools import cache
from pathlib import Path

import hydra
import lightning
import pytest
from omegaconf import OmegaConf

from alexnet.run.resolvers import register_resolvers
from conftest import ROOT

CONFIGS = ROOT / "configs"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMANDS = ("train", "eval", "predict", "features", "export", "prepare")
# Options the pages misspell on purpose, to show what the mistake prints.
MISSPELT_ON_PURPOSE = {"trainer.max_epoch", "model.nrom"}

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`([^`]+)`")  # on one line
OPTION = re.compile(r"^([a-z_][a-z0-9_]*(?:[./][a-z0-9_]+)*)=(.*)$")
DOTTED = re.compile(r"^[a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)+$")
FILE = re.compile(r"\.(py|png|json|yaml|md|ckpt|pt|pt2|ts|onnx|log|txt|db|csv)$")  # a file


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for line in page.read_text().splitlines():
        if match := re.match(r"^#+ (.*)", line):
            base, n = slug(match.group(1)), 0
            while (anchor := base if n == 0 else f"{base}-{n}") in found:
                n += 1
            found.add(anchor)
    return found


def links() -> list[tuple[Path, str]]:
    return [(page, target) for page in PAGES for target in LINK.findall(page.read_text())]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_and_anchor_resolves(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no {file.relative_to(ROOT)}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.name}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def options_named(page: Path) -> set[str]:
    """Every ``key=value`` and dotted key a page shows in code: commands and code spans."""
    lines = [line for line in page.read_text().splitlines() if not line.startswith("```")]
    blocks = [line for line in lines if line.startswith("    ")]
    spans = [span for line in lines for span in CODE_SPAN.findall(line)]
    named = set()
    for token in " ".join(blocks + spans).replace("'", " ").replace('"', " ").split():
        if token.startswith(("+", "~", "-")):
            continue  # an option added or removed on purpose (or a program's flag)
        if match := OPTION.match(token):
            named.add(f"{match.group(1)}={match.group(2)}")
        elif DOTTED.match(token) and not FILE.search(token):
            named.add(token)
    return named


def flattened(config: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in config.items():
        path = f"{prefix}{key}"
        keys.add(path)
        if isinstance(value, dict):
            keys |= flattened(value, f"{path}.")
    return keys


def options_of_group(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


@cache
def known_keys() -> frozenset[str]:
    """The keys of every command's config, and of train.py's with each option of each
    group, with Hydra's own (its launchers, sweeper and pruners)."""
    register_resolvers()
    compositions = [(command, []) for command in COMMANDS]
    for group in ("model", "data", "optimizer", "scheduler", "trainer", "callbacks", "logger",
                  "debug", "experiment", "launcher", "hparams_search"):  # fmt: skip
        compositions += [("train", [f"{group}={option}"]) for option in options_of_group(group)]
    study = ["hparams_search=alexnet_optuna"]
    compositions += [
        ("train", [*study, f"hydra/sweeper/pruner={option}"])
        for option in options_of_group("hydra/sweeper/pruner")
    ]
    keys: set[str] = set()
    with hydra.initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        for command, overrides in compositions:
            config = hydra.compose(command, overrides=overrides, return_hydra_config=True)
            keys |= flattened(OmegaConf.to_container(config, resolve=False))
    return frozenset(keys)


def exists(option: str) -> bool:
    key, _, value = option.partition("=")
    if (CONFIGS / key).is_dir():  # group=option[,option...]
        return not value or all(
            (CONFIGS / key / f"{choice}.yaml").is_file() or choice in ("null", "none")
            for choice in value.strip("[]").split(",")
        )
    key = key.replace("/", ".")
    if key in known_keys():
        return True
    parts = key.split(".")
    if parts[0] == "trainer" and len(parts) > 1:  # any lightning.Trainer argument
        return parts[1] in inspect.signature(lightning.Trainer).parameters
    return False


def top_level_keys() -> set[str]:
    return {key.split(".")[0] for key in known_keys()}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_option_a_page_names_exists(page):
    tops = top_level_keys() | {p.name for p in CONFIGS.iterdir() if p.is_dir()}
    unknown = sorted(
        option
        for option in options_named(page)
        if option.split("=")[0].replace("/", ".").split(".")[0] in tops
        and option.split("=")[0] not in MISSPELT_ON_PURPOSE
        and not exists(option)
    )
    assert not unknown, f"{page.name} names options no config has: {', '.join(unknown)}"
