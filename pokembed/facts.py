"""Build facts read back from a built dataset: which text and image models made it.

A dataset folder written by build_dataset.py (its `.pokembed` marker, else the parquet schema metadata, else the
card's YAML) or a Hub dataset (the same files downloaded). The Space uses this to load the query models that match
the dataset's vectors.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetModels:
    """The models a dataset was built with, as recorded in its build facts (None when not recorded)."""

    text_model: str | None
    image_model: str | None


_TEXT_KEYS = ("text_model_id", "text_model")
_IMAGE_KEYS = ("image_model_id", "image_model")


def _find_key(facts: Any, keys: Sequence[str]) -> str | None:
    """The first model id found under any of `keys`, searching nested dicts breadth-first."""
    queue = [facts]
    while queue:
        node = queue.pop(0)
        if isinstance(node, Mapping):
            for key in keys:
                value = node.get(key)
                if isinstance(value, str) and value:
                    return value
                if isinstance(value, Mapping):
                    for sub in ("model_id", "id", "name"):
                        if isinstance(value.get(sub), str) and value[sub]:
                            return value[sub]
            queue.extend(v for v in node.values() if isinstance(v, (Mapping, list)))
        elif isinstance(node, list):
            queue.extend(v for v in node if isinstance(v, (Mapping, list)))
    return None


def models_from_facts(facts: Mapping | None) -> DatasetModels:
    """The text and image model ids named by a dataset's build facts (any nesting; missing -> None)."""
    return DatasetModels(_find_key(facts or {}, _TEXT_KEYS), _find_key(facts or {}, _IMAGE_KEYS))


def _json(text: str | bytes | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except (ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def _card_yaml(card: str) -> dict:
    """The `pokembed` facts in a dataset card's YAML header, read without a YAML parser (values on one line)."""
    match = re.match(r"^---\s*\n(.*?)\n---", card, re.S)
    facts: dict[str, str] = {}
    for line in (match.group(1) if match else "").splitlines():
        found = re.match(r"^\s*(text_model_id|image_model_id|text_model|image_model)\s*:\s*['\"]?([^'\"#]+?)['\"]?\s*$",
                         line)
        if found:
            facts.setdefault(found.group(1), found.group(2))
    return facts


def read_build_facts(dataset: str | Path, revision: str | None = None) -> dict:
    """Build facts of a dataset folder or Hub dataset: the `.pokembed` marker, else parquet metadata, else the card."""
    folder = Path(dataset)
    if folder.is_dir():
        marker = folder / ".pokembed"
        facts = _json(marker.read_text(encoding="utf-8")) if marker.is_file() else {}
        if not any(models_from_facts(facts).__dict__.values()):
            import pyarrow.parquet as pq

            for parquet in sorted(folder.glob("data/*.parquet")):
                metadata = pq.read_schema(parquet).metadata or {}
                facts = _json(metadata.get(b"pokembed")) or facts
                break
        if not any(models_from_facts(facts).__dict__.values()) and (folder / "README.md").is_file():
            facts = _card_yaml((folder / "README.md").read_text(encoding="utf-8")) or facts
        return facts
    from huggingface_hub import hf_hub_download

    for filename, parse in ((".pokembed", _json), ("README.md", _card_yaml)):
        try:
            path = hf_hub_download(str(dataset), filename, repo_type="dataset", revision=revision)
        except Exception as exc:  # noqa: BLE001 - a missing marker is not fatal; the card may have the facts
            logger.info("no %s in %s: %s", filename, dataset, exc)
            continue
        facts = parse(Path(path).read_text(encoding="utf-8"))
        if any(models_from_facts(facts).__dict__.values()):
            return facts
    return {}


def models_from_dataset(dataset: str | Path, revision: str | None = None) -> DatasetModels:
    """The text and image models a dataset (local folder or Hub id) was built with, from its build facts."""
    return models_from_facts(read_build_facts(dataset, revision))


__all__ = ["DatasetModels", "models_from_facts", "read_build_facts", "models_from_dataset"]
