"""The Space driven in real headless Chromium (Debian's package, through Playwright's executable_path)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from space_server import running_space

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Chromium absent: {CHROMIUM} not found (installed by .ci/run)"),
]


@pytest.fixture(scope="module")
def server(built_dataset, tiny_models, tmp_path_factory):
    with running_space(built_dataset, tiny_models, tmp_path_factory.mktemp("space-browser")) as url:
        yield url


@pytest.fixture(scope="module")
def names(built_dataset) -> list[str]:
    import pyarrow.parquet as pq

    parquet = sorted((built_dataset / "data").glob("*.parquet"))[0]
    return pq.read_table(parquet, columns=["name"]).column("name").to_pylist()


@pytest.fixture()
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(server, wait_until="domcontentloaded")
            yield page
        finally:
            browser.close()


def gallery_captions(page, gallery: str) -> list[str]:
    return [t.strip() for t in page.locator(f"{gallery} .caption-label").all_inner_texts()]


def test_pick_ask_map_screenshot(page, names, tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)  # the first question loads the models
    # the first tab fills itself on load; pick another Pokémon by typing its name
    expect(page.locator("#similar-gallery img").first).to_be_visible()
    chosen = names[3]
    name_box = page.locator("#pokemon-name input")
    name_box.click()
    name_box.press("Control+a")
    name_box.press_sequentially(chosen[:5], delay=50)  # type-ahead: the list narrows to matching names
    option = page.get_by_role("option", name=chosen, exact=True)
    expect(option).to_be_visible()
    option.click()
    expect(page.locator("#similar-summary")).to_contain_text(f"{chosen} ·")
    expect(page.locator("#similar-gallery img").first).to_be_visible()
    shown = gallery_captions(page, "#similar-gallery")
    assert shown and all(" · " in c for c in shown) and not any(c.startswith(f"{chosen} ·") for c in shown)
    expect(page.locator("#per-generation")).to_contain_text("generation-")

    # ask a question
    page.get_by_role("tab", name="Ask the Pokédex").click()
    page.locator("#question textarea").fill("what looks like an ice cream cone?")
    page.locator("#ask-button").click()
    expect(page.locator("#ask-status")).to_contain_text("ice cream cone")
    expect(page.locator("#ask-gallery img").first).to_be_visible()
    assert all(" · " in c for c in gallery_captions(page, "#ask-gallery"))

    # a bad question shows a short message, not a traceback
    page.locator("#question textarea").fill("   ")
    page.locator("#ask-button").click()
    toast = page.get_by_text("the question is empty")
    expect(toast.first).to_be_visible()
    assert page.get_by_text("Traceback").count() == 0
    page.locator(".toast-close").first.click()

    # open the map and highlight the chosen Pokémon
    page.get_by_role("tab", name="Map").click()
    expect(page.locator("#map-plot .js-plotly-plot").first).to_be_visible()
    highlight = page.locator("#map-pokemon input")
    highlight.click()
    highlight.fill(chosen)
    highlight.press("Enter")
    expect(page.locator("#map-plot .legend")).to_contain_text("neighbours")
    assert page.locator("#map-plot .scatterlayer .point").count() >= len(names)

    shot = tmp_path / "space.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("POKEMBED_SCREENSHOT_DIR"):  # keep a copy to look at by eye
        shutil.copy(shot, Path(os.environ["POKEMBED_SCREENSHOT_DIR"]) / shot.name)
    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 24) or []
        assert rgb.width >= 1000 and rgb.height >= 600
    assert len(colours) > 200, f"the screenshot looks blank: {len(colours)} distinct colours"
