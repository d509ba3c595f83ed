"""``python train.py --help``: the project's config groups and settings, a line each.

Hydra shows the help text configured in ``hydra.help.template``; the configs set it to
``${config_help:<task>}``, this module's text, built from the config files themselves:
each option's first comment line, each setting's comment in the task's file. So the
help cannot drift from the configs (tests/test_config_help.py checks every option has
its line).
"""

import os
import re
from pathlib import Path

import yaml

SETTING = re.compile(r"^(?P<indent> *)(?P<key>[\w]+):(?P<value>[^#]*?)\s*(?:#\s*(?P<doc>.*))?$")


def describe(option: Path) -> str:
    """The first comment line of a config file (its one-line description)."""
    for line in option.read_text().splitlines():
        text = line.strip()
        if text.startswith("#") and "@package" not in text:
            return text.lstrip("# ").strip()
    return ""


def defaults_of(config: Path) -> list:
    return yaml.safe_load(config.read_text()).get("defaults", [])


def composed_files(task_config: Path) -> list[Path]:
    """The task's file, after the task files it builds on (``- train`` in its defaults,
    as prepare.yaml does)."""
    bases = [e for e in defaults_of(task_config) if isinstance(e, str) and e != "_self_"]
    below = [f for base in bases for f in composed_files(task_config.parent / f"{base}.yaml")]
    return [*below, task_config]


def groups_of(task_config: Path) -> dict[str, str | None]:
    """The config groups a task composes, with their default option."""
    found = {}
    for entry in (e for config in composed_files(task_config) for e in defaults_of(config)):
        if isinstance(entry, dict):
            ((group, option),) = entry.items()
            if group not in ("hydra", "paths") and not group.startswith("override"):
                found[group] = option
    return found


def settings_of(task_config: Path) -> list[str]:
    """The task's settings with their comments, nested ones as ``a.b`` (a setting of
    the task's own file replaces the one of a task file it builds on)."""
    settings: dict[str, tuple[str, str]] = {}
    for config in composed_files(task_config):
        parent = ""
        for line in config.read_text().splitlines():
            match = SETTING.match(line)
            if not match or match["key"] == "defaults" or line.startswith(("  -", "-")):
                continue
            indent, key, value = len(match["indent"]), match["key"], match["value"].strip()
            if indent == 0 and not value:
                parent = key
                continue
            name = f"{parent}.{key}" if indent and parent else key
            settings[name] = (f"{name}={value}", match["doc"] or "")
    width = max((len(setting) for setting, _ in settings.values()), default=0)
    return [f"  {setting:<{width}}  {doc}".rstrip() for setting, doc in settings.values()]


def config_help(task: str) -> str:
    """The help text of ``<task>.py``."""
    config_dir = Path(os.environ.get("ALEXNET_CONFIG_DIR", "configs"))
    task_config = config_dir / f"{task}.yaml"
    lines = [
        f"python {task}.py [group=option ...] [key=value ...]      (add -m to sweep)",
        "",
        "Config groups, group=option (* the default):",
    ]
    for group, default in groups_of(task_config).items():
        lines.append(f"  {group}:")
        for option in sorted((config_dir / group).glob("*.yaml")):
            mark = "*" if option.stem == default else " "
            lines.append(f"   {mark}{option.stem:<22} {describe(option)}")
    lines += ["", "Settings, key=value:", *settings_of(task_config), ""]
    lines.append(f"Any value of the composed config is an override (python {task}.py --cfg job")
    lines.append("prints it), e.g. trainer.max_epochs=30 data.batch_size=256. docs/ explains.")
    return "\n".join(lines) + "\n"
