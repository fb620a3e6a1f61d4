"""The dataset card: facts, rendering, valid Hub YAML, the usage example, and the changelog between versions."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from pokembed.dataset.card import COLUMN_DOCS, read_template, render_card, size_category
from pokembed.dataset.changelog import diff_versions, parse_changelog
from pokembed.dataset.facts import BuildFacts, facts_from_card, facts_from_dict, facts_from_json, facts_to_dict, facts_to_json
from pokembed.dataset.table import dataset_features, read_table, rows_to_table, write_dataset_folder
from pokembed.errors import BadInputError
from pokembed.projection import UmapParams

TEXT_DIM, IMAGE_DIM = 8, 4
NOMIC_TEXT = {
    "name": "nomic-embed-text-v1.5",
    "model_id": "nomic-ai/nomic-embed-text-v1.5",
    "revision": "e9c3d1e4a1a1b1f2c3d4e5f60718293a4b5c6d7e",
    "kind": "text",
    "architecture": "nomic_bert",
    "pooling": "mean",
    "document_prompt": "search_document: ",
    "query_prompt": "search_query: ",
    "dimension": 768,
    "max_tokens": 8192,
    "layer_norm": True,
    "query_model": None,
}
NOMIC_VISION = {
    **NOMIC_TEXT,
    "name": "nomic-embed-vision-v1.5",
    "model_id": "nomic-ai/nomic-embed-vision-v1.5",
    "revision": "0123456789abcdef0123456789abcdef01234567",
    "kind": "image",
    "architecture": "nomic_vision",
    "pooling": "cls",
    "document_prompt": "",
    "query_prompt": "",
    "max_tokens": 0,
    "layer_norm": False,
    "query_model": "nomic-embed-text-v1.5",
}
SIGLIP = {
    **NOMIC_VISION,
    "name": "siglip2-base-patch16-224",
    "model_id": "google/siglip2-base-patch16-224",
    "revision": "fedcba9876543210fedcba9876543210fedcba98",
    "architecture": "siglip",
    "pooling": "pooler",
    "query_model": "siglip2-base-patch16-224",
}
NAMES = ["bulbasaur", "ivysaur", "charmander", "pikachu", "magikarp", "venusaur-mega"]
IDS = [1, 2, 4, 25, 129, 10033]


def png(seed: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (seed * 40 % 256, 10, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def make_rows(names=NAMES, ids=IDS, missing=(129,), truncated=(129,), changed=()) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for pokemon_id, name in zip(ids, names):
        text = rng.normal(size=TEXT_DIM).astype(np.float32)
        image = rng.normal(size=IMAGE_DIM).astype(np.float32)
        document = json.dumps({"id": pokemon_id, "name": name, "changed": pokemon_id in changed}, separators=(",", ":"))
        rows.append(
            {
                "id": pokemon_id,
                "name": name,
                "display_name": name.title(),
                "species_id": pokemon_id if pokemon_id < 10000 else 3,
                "is_default": pokemon_id < 10000,
                "generation": "generation-i",
                "types": ["water"],
                "document": document,
                "text_tokens": 15000 if pokemon_id in truncated else 900,
                "text_truncated": pokemon_id in truncated,
                "text_embedding": text / np.linalg.norm(text),
                "image_embedding": None if pokemon_id in missing else image / np.linalg.norm(image),
                "umap_2d_x": 0.5,
                "umap_2d_y": -0.5,
                "pca_2d_x": 0.25,
                "pca_2d_y": -0.25,
                "image": None if pokemon_id in missing else {"bytes": png(pokemon_id), "path": None},
                "neighbors": {"ids": [i for i in ids if i != pokemon_id][:3], "distances": [0.1, 0.2, 0.3]},
            }
        )
    return rows


def make_table(**kwargs):
    return rows_to_table(make_rows(**kwargs), dataset_features(TEXT_DIM, IMAGE_DIM))


def make_facts(**overrides) -> BuildFacts:
    values = {
        "version": "1.0.0",
        "source": "csv:/home/someone/shared/pokeapi/csv",
        "data_version": "3f1c2a9",
        "fetched_at": None,
        "text_model": NOMIC_TEXT,
        "image_model": NOMIC_VISION,
        "umap": UmapParams(),
        "long_documents": "truncate",
        "counts": {"pokemon": 6, "species": 5, "corrupt_artwork": 0},
        "missing_artwork": [129],
        "truncated": ["magikarp"],
        "built_at": "2025-01-31",
        "artwork": "/home/someone/shared/pokeapi/official-artwork",
        "neighbors_k": 3,
    }
    values.update(overrides)
    return BuildFacts(**values)


def render(table=None, facts=None, changelog=("Initial release.",), **kwargs) -> str:
    return render_card(
        read_template(),
        make_table() if table is None else table,
        make_facts() if facts is None else facts,
        list(changelog),
        **kwargs,
    )


def test_facts_round_trip_through_json() -> None:
    facts = make_facts()
    assert facts.umap == dataclasses.asdict(UmapParams())
    assert facts_from_json(facts_to_json(facts)) == facts
    assert facts_from_dict(facts_to_dict(facts)) == facts
    assert facts_from_dict({**facts_to_dict(facts), "from_the_future": 1}) == facts
    assert facts_to_json(facts) == facts_to_json(make_facts())
    with pytest.raises(BadInputError, match="build facts are incomplete"):
        facts_from_dict({"version": "1.0.0"})


def test_size_category() -> None:
    assert size_category(1351) == "1K<n<10K"
    assert size_category(20) == "n<1K"
    assert size_category(999) == "n<1K"
    assert size_category(10_000) == "10K<n<100K"


def test_the_yaml_front_matter_is_valid_hub_metadata() -> None:
    card = render()
    assert card.startswith("---\n")
    front, body = card[4:].split("\n---\n", 1)
    meta = yaml.safe_load(front)
    assert meta["license"] == "other" and meta["license_name"] and meta["license_link"].startswith("https://")
    assert meta["pretty_name"]
    assert {"pokemon", "embeddings", "text-embeddings", "image-embeddings", "umap", "multimodal"} <= set(meta["tags"])
    assert "feature-extraction" in meta["task_categories"]
    assert meta["size_categories"] == ["n<1K"]
    assert meta["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "data/*.parquet"}]}
    ]
    assert [f["name"] for f in meta["dataset_info"]["features"]] == list(dataset_features(TEXT_DIM, IMAGE_DIM))
    assert facts_from_card(card) == dataclasses.replace(
        make_facts(), source="csv:csv", artwork="local:official-artwork"
    )
    assert "/home/someone" not in card  # no local paths in a public card
    assert "$" not in body.replace("$$", "")  # every placeholder filled


def test_the_body_documents_columns_and_build() -> None:
    card = render(repo_id="someone/pokemon-embeddings")
    for column in dataset_features(TEXT_DIM, IMAGE_DIM):
        assert re.search(rf"^\| `{column}` \| .+ \| .+ \|$", card, flags=re.M), column
    assert "| `text_embedding` | float32[8] |" in card
    assert "| `image_embedding` | float32[4] or null |" in card
    assert "| `neighbors` | {ids: list<int32>, distances: list<float32>} |" in card
    for fact in (
        "nomic-ai/nomic-embed-text-v1.5",
        NOMIC_TEXT["revision"],
        NOMIC_VISION["revision"],
        "`search_document: `",
        "`search_query: `",
        "n_neighbors=5",
        "min_dist=0.0",
        "n_epochs=5000",
        "random_state=42",
        "data version `3f1c2a9`",
        "| magikarp | 129 | 15,000 |",
        "`magikarp` (129)",
        "no image vector is invented",
        "minimaxir.com/2024/06/pokemon-embeddings",
        "The Super Effectiveness of Pokémon Embeddings Using Only Raw JSON and Images",
        "PokéAPI",
        "Nintendo",
        "BSD-3-Clause",
        'load_dataset("someone/pokemon-embeddings", split="train")',
        '"search_query: " + text',
        "### v1.0.0 (2025-01-31)\n\n- Initial release.",
        "2025-01-31",
    ):
        assert fact in card, fact


def test_every_feature_has_column_docs() -> None:
    assert set(COLUMN_DOCS) == set(dataset_features(TEXT_DIM, IMAGE_DIM))
    table = make_table().append_column("mystery", __import__("pyarrow").array([1] * len(IDS)))
    with pytest.raises(BadInputError, match="column\\(s\\) \\['mystery'\\] have no description"):
        render(table=table)


def test_the_full_table_is_required() -> None:
    slim = make_table().select(["id", "name", "document"])
    with pytest.raises(BadInputError,
                       match="render_card needs the full table, but column\\(s\\) \\['display_name', 'species_id'"):
        render(table=slim)


def test_counts_are_not_repeated() -> None:
    card = render()
    assert card.count("| Pokémon (rows) | 6 |") == 1
    assert "| species | 5 |" in card and "| corrupt artwork | 0 |" in card


def test_facts_from_build_objects() -> None:
    from types import SimpleNamespace

    source = SimpleNamespace(
        source="graphql:https://graphql.pokeapi.co/v1beta2", fetched_at="2025-03-04T05:06:07Z", data_version=None
    )
    spec = dataclasses.make_dataclass("Spec", list(NOMIC_TEXT), frozen=True)(**NOMIC_TEXT)  # ModelSpec's fields
    facts = BuildFacts.from_build(
        version="1.0.0",
        source=source,
        text_spec=spec,
        image_spec=NOMIC_VISION,
        umap=UmapParams(),
        long_documents="chunk",
        counts={"pokemon": 6},
        missing_artwork=[129],
        truncated=["magikarp (15000 tokens)"],
        neighbors=10,
    )
    assert facts.built_at == "2025-03-04" and facts.fetched_at == "2025-03-04T05:06:07Z"
    assert facts.text_model == NOMIC_TEXT and facts.neighbors_k == 10
    assert facts_from_json(facts_to_json(facts)) == facts
    card = render(facts=facts)
    assert "fetched 2025-03-04T05:06:07Z" in card and "`https://graphql.pokeapi.co/v1beta2`" in card
    assert "embedded in windows" in card



def test_the_pca_variance_is_kept_in_the_facts_and_told_in_the_card() -> None:
    from pokembed.projection import PcaProjection

    pca = PcaProjection(np.zeros((6, 2), dtype=np.float32), (0.123456789, 0.0456))
    facts = BuildFacts.from_build(version="1.0.0", source="csv:/x", text_spec=NOMIC_TEXT, image_spec=NOMIC_VISION,
                                  umap=UmapParams(), long_documents="truncate", counts={}, missing_artwork=[],
                                  truncated=[], pca=pca)
    assert facts.pca == {"explained_variance_ratio": [0.123457, 0.0456]}
    assert facts_from_json(facts_to_json(facts)) == facts
    card = render(facts=facts)
    assert "The x axis explains 12.3% of the variance, the y axis 4.6%." in card
    assert re.search(r"^\| `pca_2d_x` \| float32 \| .*\(12\.3% of the variance; every row has one\)", card, re.M)
    assert re.search(r"^\| `pca_2d_y` \| float32 \| .*\(4\.6% of the variance\)", card, re.M)
    assert facts_from_card(card).pca == facts.pca
    older = render(facts=make_facts())  # facts from before PCA: the card still renders, without invented shares
    assert "PCA beside the map" in older and "not recorded" in older

def test_rendering_is_deterministic_and_uses_no_clock() -> None:
    assert render() == render()
    assert render(facts=make_facts(built_at=None)).count("2025") == 0


def test_siglip_builds_get_their_own_query_example() -> None:
    card = render(facts=make_facts(image_model=SIGLIP))
    assert "get_text_features(**batch).pooler_output" in card
    assert 'AutoProcessor.from_pretrained("google/siglip2-base-patch16-224"' in card
    assert "text tower of `google/siglip2-base-patch16-224`" in card


def test_missing_and_truncated_sections_when_there_are_none() -> None:
    card = render(table=make_table(missing=(), truncated=()), facts=make_facts(missing_artwork=[], truncated=[]))
    assert "None: every Pokémon has artwork." in card
    assert "None: every document fits the text model's 8,192-token context." in card


def test_the_usage_example_runs_against_the_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    out_dir = tmp_path / "out"
    features = dataset_features(TEXT_DIM, IMAGE_DIM)
    card = render(repo_id=str(out_dir))
    write_dataset_folder(out_dir, make_rows(), features, {"v": 1}, card, {"version": "1.0.0"})
    code = re.search(r"```python\n(.*?)```", (out_dir / "README.md").read_text(), flags=re.S).group(1)
    similarity, rest = code.split("\n# 2. ", 1)
    query_model, text_to_image = ("# " + part for part in rest.split("\n# 3. ", 1))
    compile(query_model, "example-part-2", "exec")  # loads a real model: only checked for syntax here
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    printed: list[tuple] = []
    namespace = {"print": lambda *args: printed.append(args), "embed_query": lambda text: np.ones(IMAGE_DIM) / 2}
    exec(similarity, namespace)
    assert len(printed) == 5 and printed[0][0] != "pikachu"
    exec(text_to_image, namespace)
    assert len(printed) == 10 and "magikarp" not in [p[0] for p in printed[5:]]  # no artwork, not ranked

    loaded = datasets.load_dataset(str(out_dir), split="train", cache_dir=str(tmp_path / "cache2"))
    assert loaded.features == features  # the card's dataset_info agrees with the parquet


def test_diff_versions_initial_and_unchanged() -> None:
    assert diff_versions(None, make_table(), None, make_facts()) == ["Initial release."]
    assert diff_versions(make_table(), make_table(), make_facts(), make_facts(version="1.0.1")) == [
        "No changes to the data."
    ]


def test_diff_versions_lists_what_changed() -> None:
    previous = make_table(names=NAMES[:5], ids=IDS[:5], missing=(129, 25))
    current = make_table(names=NAMES[:2] + NAMES[3:] + ["mew"], ids=IDS[:2] + IDS[3:] + [151], changed=(1, 2))
    new_text = {**NOMIC_TEXT, "revision": "abc"}
    lines = diff_versions(
        previous,
        current,
        make_facts(),
        make_facts(version="1.1.0", text_model=new_text, data_version="9999999", umap=UmapParams(n_neighbors=8)),
    )
    assert "Added 2 Pokémon: mew, venusaur-mega." in lines  # by id
    assert "Removed 1 Pokémon: charmander." in lines
    assert "Documents changed for 2 Pokémon: bulbasaur, ivysaur." in lines
    assert "Artwork added for 1 Pokémon: pikachu." in lines
    assert "Text model: `nomic-ai/nomic-embed-text-v1.5` @ `abc` (was `nomic-ai/nomic-embed-text-v1.5` @ `" + NOMIC_TEXT["revision"] + "`)." in lines
    assert "Source: `csv:csv` @ `9999999` (was `csv:csv` @ `3f1c2a9`)." in lines
    assert "UMAP parameters: n_neighbors 5 → 8." in lines
    assert not any("Image model" in line for line in lines)


def test_long_name_lists_are_cut() -> None:
    names = [f"mon-{i}" for i in range(30)]
    previous = make_table(names=names[:1], ids=[1], missing=(), truncated=())
    current = make_table(names=names, ids=list(range(1, 31)), missing=(), truncated=())
    (line,) = diff_versions(previous, current, None, make_facts())
    assert line.startswith("Added 29 Pokémon: mon-1, mon-2,") and line.endswith("mon-20 and 9 more.")


def test_changelog_carries_previous_entries_forward() -> None:
    first = render()
    assert parse_changelog(first) == ["### v1.0.0 (2025-01-31)\n\n- Initial release."]
    second = render(
        facts=make_facts(version="1.1.0", built_at="2025-06-01"),
        changelog=["Added 1 Pokémon: mew."],
        previous_changelog=parse_changelog(first),
    )
    assert parse_changelog(second) == [
        "### v1.1.0 (2025-06-01)\n\n- Added 1 Pokémon: mew.",
        "### v1.0.0 (2025-01-31)\n\n- Initial release.",
    ]
    rebuilt = render(
        facts=make_facts(version="1.1.0", built_at="2025-06-02"),
        changelog=["Documents changed for 1 Pokémon: mew."],
        previous_changelog=parse_changelog(second),
    )
    assert [entry.splitlines()[0] for entry in parse_changelog(rebuilt)] == [
        "### v1.1.0 (2025-06-02)",
        "### v1.0.0 (2025-01-31)",
    ]
    assert parse_changelog("# a card without a changelog") == []


def test_template_errors_are_one_line() -> None:
    """The template's wheel packaging is tests/test_packaging.py's."""
    with pytest.raises(BadInputError, match="cannot read the card template"):
        read_template(Path("/nonexistent/card.md"))
    with pytest.raises(BadInputError, match="unknown or malformed placeholder"):
        render_card("{{ nope }}", make_table(), make_facts(), [])


def test_read_table_feeds_the_card(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    write_dataset_folder(out_dir, make_rows(), dataset_features(TEXT_DIM, IMAGE_DIM), {}, "x", {})
    assert render(table=read_table(out_dir)) == render()


def test_the_card_says_the_nomic_image_model_runs_natively():
    from pokembed.dataset.card_text import model_description as _model_description

    text = _model_description(NOMIC_VISION, "image")
    assert "run natively by pokembed (nomic's `NomicVisionModel` in plain torch, no remote code)" in text
    assert "attention-pooling head" in text and "CLS" not in text
    assert "natively" not in _model_description(SIGLIP, "image")


def test_facts_leave_out_which_local_snapshot_was_read(tmp_path):
    """An offline build from a snapshot folder records the same model facts as an online one."""
    import dataclasses

    from pokembed.dataset.facts import BuildFacts
    from pokembed.embedding.registry import MODELS

    spec = MODELS["nomic-embed-vision-v1.5"]
    facts = [
        BuildFacts.from_build(version="0.1.0", source="csv:x", text_spec=MODELS["nomic-embed-text-v1.5"], image_spec=s,
                              umap={"n_neighbors": 15}, long_documents="truncate", counts={}, missing_artwork=[],
                              truncated=[])
        for s in (spec, dataclasses.replace(spec, snapshot=str(tmp_path / "snapshot")))
    ]
    assert facts[0] == facts[1] and "snapshot" not in facts[1].image_model
    assert facts[1].image_model["revision"] == spec.revision


def test_dataset_info_comes_from_datasets_public_writer() -> None:
    """`dataset_info` is written by datasets' DatasetInfosDict.to_dataset_card_data (no private Features helper);
    if datasets changes what it writes, this fails rather than a card drifting silently."""
    from datasets import Features, Image, List, Value

    from pokembed.dataset.card import dataset_info_yaml

    features = Features({"id": Value("int32"), "types": List(Value("string")), "image": Image(),
                         "vector": List(Value("float32"), length=4)})
    assert dataset_info_yaml(features, num_bytes=123, num_examples=7) == {
        "features": [{"name": "id", "dtype": "int32"}, {"name": "types", "list": "string"},
                     {"name": "image", "dtype": "image"}, {"name": "vector", "list": "float32", "length": 4}],
        "splits": [{"name": "train", "num_bytes": 123, "num_examples": 7}],
    }
