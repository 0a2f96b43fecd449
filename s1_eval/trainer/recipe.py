"""The s1-train command line before anything heavy loads: the YAML recipe and the flags' names.

    check_keys(["--config", "trainer/recipes/tiny_cpu.yaml", "--max_steps", "3"], (S1Args, S1SFTConfig))

A recipe key or flag that no config field has (a typo, or a name from s1's own train/sft.py
or an older TRL) and a word that is neither a flag nor a flag's value are refused here, each
as a ``ConfigError``, so a mistake never costs a model or dataset load. The config classes are
passed in (``s1_eval.trainer.sft`` defines them) so this module needs no torch or model code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import yaml
from trl import TrlParser

from s1_eval.common.log import did_you_mean, one_line
from s1_eval.trainer.data import ConfigError

SUBCOMMANDS = ("estimate", "select")

# Keys from s1's own train/sft.py and older TRL / transformers, and what they are called now.
RENAMED_KEYS = {
    "block_size": "max_length",
    "max_seq_length": "max_length",
    "warmup_ratio": "warmup_steps (a float below 1 is a ratio of the total steps)",
    "model_name": "model_name_or_path",
    "train_file_path": "dataset_name",
    "tokenizer": "nothing: s1-train passes the tokenizer as processing_class",
    "torch_dtype": "dtype",
}


def known_keys(classes: Sequence[type]) -> set[str]:
    """Every field name of the config dataclasses: what a recipe or a flag may set."""
    return {f.name for cls in classes for f in dataclasses.fields(cls)}


def check_keys(argv: list[str], classes: Sequence[type]) -> None:
    """Name unknown recipe keys and renamed flags before anything heavy happens."""
    known = known_keys(classes)
    recipe_keys: list[str] = []
    if "--config" in argv:
        recipe_keys = [key for key in read_recipe(argv) if key != "env"]
    flags = [a[2:].split("=")[0].replace("-", "_") for a in argv if a.startswith("--")]
    # HfArgumentParser also accepts --no_<flag> for booleans that default to True.
    flags = [f[3:] if f.startswith("no_") and f[3:] in known else f for f in flags]
    unknown = [key for key in recipe_keys + flags if key not in known | {"config", "help"}]
    if unknown:
        hints = [f"{key} -> {RENAMED_KEYS[key]}" for key in unknown if key in RENAMED_KEYS]
        hint = (
            f"renamed: {'; '.join(hints)}" if hints else "see s1-train train --help for the fields"
        )
        raise ConfigError(", ".join(unknown), f"unknown config key ({hint})")
    check_no_stray_words(argv, classes)


def check_no_stray_words(argv: list[str], classes: Sequence[type]) -> None:
    """A word that is neither a flag nor a flag's value: argparse would set it aside unread."""
    rest = list(argv)
    if "--config" in rest:
        index = rest.index("--config")
        del rest[index : index + 2]
    # The real parser decides which words are values (booleans take one optionally, lists many).
    _, extras = TrlParser(tuple(classes)).parse_known_args(rest)
    words = [word for word in extras if not word.startswith("-")]
    if words:
        raise ConfigError(
            words[0],
            "unexpected word: s1-train takes --config RECIPE and --field value flags, or a "
            f"subcommand {list(SUBCOMMANDS)}.{did_you_mean(words[0], SUBCOMMANDS)}",
        )


def read_recipe(argv: list[str]) -> dict:
    """The YAML recipe named by ``--config``, checked to be a mapping."""
    index = argv.index("--config") + 1
    if index >= len(argv):
        raise ConfigError("--config", "needs a recipe path, e.g. trainer/recipes/tiny_cpu.yaml")
    path = argv[index]
    try:
        with open(path) as handle:
            recipe = yaml.safe_load(handle) or {}
    except FileNotFoundError:
        raise ConfigError("--config", f"no such recipe file: {path}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError("--config", f"{path} is not valid YAML: {one_line(error)}") from None
    if not isinstance(recipe, dict):
        raise ConfigError("--config", f"{path}: a recipe must be a YAML mapping of field: value")
    return recipe
