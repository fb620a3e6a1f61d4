"""pokembed.embedding.encoders pinned where test_encoders.py and test_encoder_math.py check less (added for the
mutation report, tests/README.md): picture modes converted to RGB first, the image encoder's defaults and refusals,
the query encoder's defaults, what the logs count."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from pokembed.embedding.encoders import load_image_encoder, load_query_encoder
from pokembed.errors import BadInputError


@pytest.fixture(scope="module")
def image_encoder(tiny_models):
    return load_image_encoder(str(tiny_models / "image"), device="cpu", progress=False)


def pictures() -> list[Image.Image]:
    rng = np.random.default_rng(1)
    return [Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)) for _ in range(3)]


def test_every_picture_mode_is_embedded_as_its_rgb_conversion(image_encoder):
    rgb = pictures()
    others = [rgb[0].convert("L"), rgb[1].convert("RGBA"), rgb[2].convert("P")]
    expected = image_encoder.embed_images([o.convert("RGB") for o in others])
    np.testing.assert_allclose(image_encoder.embed_images(others), expected, atol=1e-6)
    assert not np.allclose(expected[0], image_encoder.embed_images([rgb[0]])[0], atol=1e-3)  # grey is not colour


def test_the_image_encoders_defaults_and_refusals(image_encoder):
    encoder = type(image_encoder)(image_encoder.spec, image_encoder.model, image_encoder.processor,
                                  device=image_encoder.device)
    assert (encoder.batch_size, encoder.progress) == (64, True)
    quiet = type(image_encoder)(image_encoder.spec, image_encoder.model, image_encoder.processor,
                                device=image_encoder.device, progress=False)
    assert quiet.progress is False
    with pytest.raises(BadInputError, match="^batch_size must be at least 1, got 0$"):
        type(image_encoder)(image_encoder.spec, image_encoder.model, image_encoder.processor,
                            device=image_encoder.device, batch_size=0)


def test_load_image_encoders_defaults(tiny_models):
    encoder = load_image_encoder(str(tiny_models / "image"))  # device "auto" resolves (a misspelt one is refused)
    assert (encoder.batch_size, encoder.progress) == (64, True)


def test_the_logs_count_items_and_tokens(image_encoder, tiny_models, caplog):
    query = load_query_encoder(str(tiny_models / "image"))  # device "auto"
    assert query.progress is False and query.token_budget == 65536
    with caplog.at_level(logging.INFO, logger="pokembed.embedding.encoders"):
        image_encoder.embed_images(pictures())
        query.embed_queries(["a", "b"])
    name = re.escape(image_encoder.spec.name)
    assert re.fullmatch(rf"image {name}: 3 imgs, 0 tokens in \d+\.\d\d s", caplog.messages[0])
    assert re.fullmatch(rf"query {re.escape(query.spec.name)}: 2 seqs, \d+ tokens in \d+\.\d\d s", caplog.messages[1])


def test_an_image_model_without_a_query_model_is_refused(image_encoder):
    spec = replace(image_encoder.spec, query_model=None)
    with pytest.raises(BadInputError, match=f"^image model {re.escape(spec.name)} names no query_model; add one to "
                                            "its pokembed.json$"):
        load_query_encoder(spec, device="cpu")
