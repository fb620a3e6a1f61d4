"""The encoders' post-processing on the tiny models, against a few lines of independent torch/numpy (no ../shared).

Text: the prompt prepended, the transformers model's last hidden states, their attention-masked mean, a layer norm
without affine weights, the first `dimension` components, unit length. Image: the pixels by hand (CLIP scaling and
normalisation of a 224x224 RGB image), nomic vision's raw forward, token 0 of the selector's output, unit length.
Each expected vector is computed here from the model files, never through pokembed's encoder classes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pokembed.embedding.encoders import load_image_encoder, load_text_encoder

DOCUMENTS = [
    '{"id":25,"name":"pikachu","types":[{"type":{"name":"electric"}}]}',
    "a",  # much shorter than its batch mates: padding that an unmasked mean would count
    '{"id":4,"name":"charmander","moves":' + json.dumps([{"move": {"name": f"ember-{i}"}} for i in range(12)]) + "}",
]
QUESTIONS = ["which pokemon is a fire type", "electric mouse"]
ATOL = 2e-6  # float32 on the CPU; the broken variants below differ by > 1e-3


def sidecar(folder) -> dict:
    return json.loads((folder / "pokembed.json").read_text())


def hand_text_vectors(folder, texts: list[str], prompt: str, *, layer_norm: bool = True, mask: bool = True) -> np.ndarray:
    """normalize(layer_norm(masked mean of last_hidden_state))[:dimension] of `prompt + text`, one padded batch."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder)).eval()
    batch = tokenizer([prompt + text for text in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state.double().numpy()
    weights = batch["attention_mask"].numpy()[:, :, None].astype(np.float64)
    if not mask:
        weights = np.ones_like(weights)
    pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
    if layer_norm:
        pooled = (pooled - pooled.mean(axis=1, keepdims=True)) / np.sqrt(pooled.var(axis=1, keepdims=True) + 1e-5)
    pooled = pooled[:, : sidecar(folder)["dimension"]]
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def hand_pixels(images) -> "np.ndarray":
    """CLIP preprocessing of 224x224 RGB images by hand: /255, minus the mean, over the std, channels first."""
    mean = np.array([0.48145466, 0.4578275, 0.40821073])
    std = np.array([0.26862954, 0.26130258, 0.27577711])
    arrays = [(np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0 - mean) / std for image in images]
    return np.stack(arrays).transpose(0, 3, 1, 2).astype(np.float32)


def hand_image_vectors(folder, images, *, token: str = "selector") -> np.ndarray:
    """normalize(token 0 of the selector's output) from nomic vision's raw forward on hand-made pixels."""
    import torch

    from pokembed.embedding import nomic_vision

    model = nomic_vision.load_model(folder)
    with torch.no_grad():
        out = model(torch.from_numpy(hand_pixels(images)))
    states = out.last_hidden_state if token == "selector" else out.encoder_hidden_state
    cls = states[:, 0].double().numpy()
    return cls / np.linalg.norm(cls, axis=1, keepdims=True)


def artwork(n: int):
    """n distinct 224x224 RGB pictures, like the stored artwork."""
    from PIL import Image, ImageDraw

    images = []
    for i in range(n):
        image = Image.new("RGB", (224, 224), (255, 255, 255))
        draw = ImageDraw.Draw(image)
        draw.ellipse((20 + 30 * i, 40, 150 + 20 * i, 200), fill=(40 * i % 256, 200 - 50 * i, 90 + 60 * i))
        draw.rectangle((100, 10 + 25 * i, 210, 60 + 25 * i), fill=(250 - 70 * i, 30 * i, 120))
        images.append(image)
    return images


@pytest.fixture(scope="module")
def text_model(tiny_models, tmp_path_factory):
    """The tiny text model with a seeded random affine on its last LayerNorm: the tiny model's own is the identity
    (weight 1, bias 0), so every token already has mean 0 and the layer norm before normalisation would change nothing."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    folder = tmp_path_factory.mktemp("text-model") / "text"
    shutil.copytree(tiny_models / "text", folder)
    weights = load_file(str(folder / "model.safetensors"))
    last = max(int(key.split(".")[2]) for key in weights if key.startswith("encoder.layers."))
    generator = torch.Generator().manual_seed(0)
    for part, centre in (("weight", 1.0), ("bias", 0.0)):
        key = f"encoder.layers.{last}.norm2.{part}"
        weights[key] = centre + 0.5 * torch.randn(weights[key].shape, generator=generator)
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


@pytest.fixture(scope="module")
def text_encoder(text_model):
    return load_text_encoder(str(text_model), device="cpu", progress=False)


def test_the_tiny_text_model_is_nomics_recipe(text_model):
    spec = sidecar(text_model)
    assert (spec["document_prompt"], spec["query_prompt"], spec["layer_norm"], spec["pooling"]) == (
        "search_document: ", "search_query: ", True, "mean")


def test_document_vectors_are_the_normalised_layer_normed_masked_mean_with_the_document_prompt(text_model, text_encoder):
    got = text_encoder.embed_documents(DOCUMENTS).vectors
    expected = hand_text_vectors(text_model, DOCUMENTS, "search_document: ")
    np.testing.assert_allclose(got, expected, atol=ATOL)
    # each step matters on these inputs: without it the vectors are measurably others
    for step, other in (("prompt", hand_text_vectors(text_model, DOCUMENTS, "search_query: ")),
                        ("layer norm", hand_text_vectors(text_model, DOCUMENTS, "search_document: ", layer_norm=False)),
                        ("mask", hand_text_vectors(text_model, DOCUMENTS, "search_document: ", mask=False))):
        assert np.abs(other - expected).max() > 1e-2, step


def test_query_vectors_use_the_query_prompt(text_model, text_encoder):
    got = text_encoder.embed_queries(QUESTIONS)
    np.testing.assert_allclose(got, hand_text_vectors(text_model, QUESTIONS, "search_query: "), atol=ATOL)
    assert np.abs(got - hand_text_vectors(text_model, QUESTIONS, "search_document: ")).max() > 1e-2


def test_matryoshka_truncation_keeps_the_leading_components_then_normalises(text_model):
    import dataclasses

    from pokembed.embedding.registry import get_model_spec

    spec = dataclasses.replace(get_model_spec(str(text_model), "text"), dimension=8)
    got = load_text_encoder(spec, device="cpu", progress=False).embed_documents(DOCUMENTS).vectors
    full = hand_text_vectors(text_model, DOCUMENTS, "search_document: ")  # 32 components, unit norm
    assert got.shape == (len(DOCUMENTS), 8)
    np.testing.assert_allclose(got, full[:, :8] / np.linalg.norm(full[:, :8], axis=1, keepdims=True), atol=ATOL)


def test_image_vectors_are_the_normalised_selector_token(tiny_models):
    images = artwork(3)
    encoder = load_image_encoder(str(tiny_models / "image"), device="cpu", progress=False)
    pixels = encoder.processor(images=images, return_tensors="pt")["pixel_values"].numpy()
    np.testing.assert_allclose(pixels, hand_pixels(images), atol=1e-5)
    got = encoder.embed_images(images)
    expected = hand_image_vectors(tiny_models / "image", images)
    np.testing.assert_allclose(got, expected, atol=ATOL)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    # the encoder's own CLS token is another vector: reading it instead would be caught
    assert np.abs(hand_image_vectors(tiny_models / "image", images, token="encoder") - expected).max() > 1e-3
    # an RGBA or palette picture is read as its RGB conversion
    np.testing.assert_allclose(encoder.embed_images([images[0].convert("RGBA")]), expected[:1], atol=ATOL)
