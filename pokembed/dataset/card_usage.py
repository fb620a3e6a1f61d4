"""The card's quick-start code: loading the dataset, a similarity query, a text query embedded as the dataset's
queries are, and text-to-image search. Generated from the build facts, so it names the models that made the vectors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pokembed.dataset.facts import BuildFacts, public_model_id, query_model_of


def usage_example(repo_id: str, facts: BuildFacts, names: Sequence[str]) -> str:
    """Python that loads `repo_id` and runs the three kinds of search the dataset is made for."""
    example = "pikachu" if "pikachu" in names or not names else names[0]
    query = query_model_of(facts) or {}
    lines = [
        "import numpy as np",
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("{repo_id}", split="train")',
        'names = list(ds["name"])',
        'text = np.array(ds["text_embedding"], dtype=np.float32)  # unit norm: a dot product is a cosine similarity',
        "",
        f"# 1. Cosine similarity: the Pokémon whose PokéAPI JSON is closest to {example}'s",
        f'scores = text @ text[names.index("{example}")]',
        "for i in np.argsort(-scores)[1:6]:",
        "    print(names[i], round(float(scores[i]), 3))",
        "",
        f"# 2. A text query embedded by {public_model_id(query)}, the way this dataset's queries are",
        *_query_snippet(query),
        "",
        "# 3. Text-to-image: the artwork closest to a description",
        'with_art = [(name, vector) for name, vector in zip(names, ds["image_embedding"]) if vector is not None]',
        "images = np.array([vector for _, vector in with_art], dtype=np.float32)",
        'scores = images @ embed_query("a blue turtle with water cannons on its shell")',
        "for i in np.argsort(-scores)[:5]:",
        "    print(with_art[i][0], round(float(scores[i]), 3))",
    ]
    return "\n".join(lines)


def _query_snippet(model: Mapping[str, Any]) -> list[str]:
    model_id = public_model_id(model)
    revision = model.get("revision")
    args = f'"{model_id}"' + (f', revision="{revision}"' if revision else "")
    if model.get("pooling") == "pooler" or str(model.get("architecture", "")).startswith("siglip"):
        max_length = model.get("max_tokens") or 64
        return [
            "import torch",
            "import torch.nn.functional as F",
            "from transformers import AutoModel, AutoProcessor",
            "",
            f"processor = AutoProcessor.from_pretrained({args})",
            f"model = AutoModel.from_pretrained({args}).eval()",
            "",
            "def embed_query(text: str) -> np.ndarray:",
            f"    # SigLIP was trained on lowercased text padded to {max_length} tokens",
            "    batch = processor(",
            f'        text=[text.lower()], padding="max_length", max_length={max_length}, truncation=True, return_tensors="pt"',
            "    )",
            "    with torch.inference_mode():",
            "        pooled = model.get_text_features(**batch).pooler_output",
            "    return F.normalize(pooled, dim=-1)[0].numpy()",
        ]
    prompt = model.get("query_prompt", "")
    dimension = model.get("dimension")
    post = []
    if model.get("layer_norm"):
        post.append("    pooled = F.layer_norm(pooled, pooled.shape[1:])")
    if dimension:
        post.append(f"    pooled = pooled[:, :{dimension}]  # Matryoshka dimension")
    return [
        "import torch",
        "import torch.nn.functional as F",
        "from transformers import AutoModel, AutoTokenizer",
        "",
        f"tokenizer = AutoTokenizer.from_pretrained({args})",
        f"model = AutoModel.from_pretrained({args}).eval()",
        "",
        "def embed_query(text: str) -> np.ndarray:",
        f"    batch = tokenizer([{json.dumps(prompt)} + text], return_tensors=\"pt\")",
        "    with torch.inference_mode():",
        "        hidden = model(**batch).last_hidden_state",
        '    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)',
        "    pooled = (hidden * mask).sum(1) / mask.sum(1)  # mean pooling",
        *post,
        "    return F.normalize(pooled, dim=-1)[0].numpy()",
    ]
