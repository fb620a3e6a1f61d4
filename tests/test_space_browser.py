"""The Space driven in real headless Chromium (Debian's package, through Playwright's executable_path), at a desktop
width (1280 px) and a phone width (390 px): what a first-time visitor sees and can do."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from conftest import CHROMIUM
from space_server import running_space

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"Chromium absent: {CHROMIUM} not found (apt-get install chromium; .ci/run does)"),
]


@pytest.fixture(scope="module")
def server(built_dataset, tiny_models, tmp_path_factory):
    with running_space(built_dataset, tiny_models, tmp_path_factory.mktemp("space-browser")) as url:
        yield url


@pytest.fixture(scope="module")
def rows(built_dataset) -> list[dict]:
    import pyarrow.parquet as pq

    parquet = sorted((built_dataset / "data").glob("*.parquet"))[0]
    return pq.read_table(parquet, columns=["name", "display_name", "generation", "image_embedding",
                                                   "neighbors"]).to_pylist()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(params=list(VIEWPORTS))
def page(request, browser, server):
    context = browser.new_context(viewport=VIEWPORTS[request.param], is_mobile=request.param == "phone",
                                  has_touch=request.param == "phone")
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server, wait_until="domcontentloaded")
    page.viewport_name = request.param
    yield page
    context.close()


def images_loaded(page, selector: str) -> list[bool]:
    """For each <img> under `selector`: scrolled into view, has it loaded a picture (naturalWidth > 0)?"""
    images = page.locator(f"{selector} img")
    loaded = []
    for i in range(images.count()):
        image = images.nth(i)
        image.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete", arg=image.element_handle())
        loaded.append(image.evaluate("img => img.naturalWidth > 0"))
    return loaded


def too_wide(page) -> list[str]:
    """Visible elements that stick out past the right edge of the viewport (or make the page scroll sideways)."""
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const out = [];
        if (document.documentElement.scrollWidth > width + 1) out.push('page scrolls sideways: ' +
            document.documentElement.scrollWidth + ' > ' + width);
        for (const el of document.querySelectorAll('body *')) {
            const box = el.getBoundingClientRect();
            if (!box.width || !box.height || getComputedStyle(el).visibility === 'hidden') continue;
            let clipped = false;
            for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
                const style = getComputedStyle(p);
                if (['auto', 'scroll', 'hidden', 'clip'].includes(style.overflowX)) {
                    if (p.getBoundingClientRect().right <= width + 1) { clipped = true; break; }
                }
            }
            if (!clipped && (box.right > width + 1 || box.left < -1)) {
                out.push(`${el.tagName.toLowerCase()}#${el.id}.${String(el.className).slice(0, 40)} ` +
                         `[${Math.round(box.left)}, ${Math.round(box.right)}]`);
            }
        }
        return out.slice(0, 10);
    }""")


def screenshot(page, tmp_path: Path, name: str) -> Path:
    """A full-page screenshot, kept in POKEMBED_SCREENSHOT_DIR when set, and checked not blank."""
    shot = tmp_path / f"{name}-{page.viewport_name}.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("POKEMBED_SCREENSHOT_DIR"):  # keep a copy to look at by eye
        shutil.copy(shot, Path(os.environ["POKEMBED_SCREENSHOT_DIR"]) / shot.name)
    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 24) or []
        assert rgb.width >= VIEWPORTS[page.viewport_name]["width"] - 20 and rgb.height >= 600
    assert len(colours) > 200, f"the screenshot looks blank: {len(colours)} distinct colours"
    return shot


ARTWORK_ANSWER = "#ask-view .pk-side-by-side > section:nth-child(1)"
RECORDS_ANSWER = "#ask-view .pk-side-by-side > section:nth-child(2)"


def test_similar_pokemon(page, rows, tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    view = page.locator("#similar-view")
    expect(view.locator(".pk-chosen h2")).to_contain_text("Pikachu" if "pikachu" in [r["name"] for r in rows]
                                                          else rows[0]["name"][:3].title())
    # every tab label is on screen, none hidden behind a "..." menu
    for label in ("Similar", "Ask", "By picture", "Sums", "Map", "Oddballs"):
        expect(page.get_by_role("tab", name=label)).to_be_visible()
    # the chosen Pokémon's artwork, its results, and the generations × top-3 grid, all with pictures
    assert all(images_loaded(page, "#similar-view .pk-chosen"))
    assert len(images_loaded(page, "#similar-view .pk-results")) == 12
    generations = sorted({r["generation"] for r in rows})
    grid = images_loaded(page, "#similar-view .pk-gen-grid")
    assert len(grid) == 3 * len(generations) and all(grid)
    assert view.locator(".pk-gen h4").all_inner_texts() == [f"Generation {g.split('-')[1].upper()}"
                                                            for g in generations]
    assert not too_wide(page), too_wide(page)
    screenshot(page, tmp_path, "similar")

    # a click on a result makes it the chosen Pokémon
    first = view.locator(".pk-results .pk-tile").first
    picked = first.locator(".pk-name").inner_text()
    first.click()
    expect(view.locator(".pk-chosen h2")).to_contain_text(picked)
    # a click in the per-generation grid too
    cell = view.locator(".pk-gen .pk-tile").last
    picked = cell.locator(".pk-name").inner_text()
    cell.click()
    expect(view.locator(".pk-chosen h2")).to_contain_text(picked)
    page.evaluate("window.scrollTo(0, 0)")

    # a typo keeps the results on screen and says what went wrong next to the box
    shown = view.locator(".pk-results").inner_html()
    box = page.locator("#pokemon-name input")
    box.click()
    box.fill("pikachuu")
    box.press("Enter")
    message = page.locator("#similar-message")
    expect(message).to_contain_text("No Pokémon named 'pikachuu'")
    expect(message).to_be_visible()
    assert view.locator(".pk-results").inner_html() == shown
    expect(view.locator(".pk-chosen h2")).to_contain_text(picked)
    assert page.get_by_text("Traceback").count() == 0 and page.locator(".toast-body").count() == 0
    assert not too_wide(page), too_wide(page)
    screenshot(page, tmp_path, "typo")


def test_the_similar_controls_answer_the_keyboard(page, rows):
    """Every Similar control refreshes the results from the keyboard (the slider's arrow keys and the number box
    after a pause, Enter in the number box, a radio's arrow keys; a number out of range is put back, not sent), the
    Pokémon box searches from empty and Escape puts it back, and a request that fails puts the controls back to
    what is shown."""
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    view = page.locator("#similar-view")
    results = view.locator(".pk-results .pk-tile")
    expect(results).to_have_count(12)
    number, slider = page.locator("#similar-k input[type=number]"), page.locator("#similar-k input[type=range]")
    slider.focus()
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    expect(results).to_have_count(9)
    expect(number).to_have_value("9")
    number.fill("7")  # no Enter: sent after the pause
    expect(results).to_have_count(7)
    number.fill("0")  # out of range: not sent after the pause, and put back on Enter
    page.wait_for_timeout(800)
    expect(page.locator("#similar-message .pk-message")).to_have_count(0)
    number.press("Enter")
    expect(number).to_have_value("7")
    number.fill("5")
    number.press("Enter")
    expect(results).to_have_count(5)
    expect(slider).to_have_value("5")
    expect(page.locator("#similar-message .pk-message")).to_have_count(0)

    page.locator("#rank-mode input:checked").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#rank-mode input:checked")).to_have_value("image")
    expect(view.locator(".pk-blurb")).to_contain_text("how their official artwork looks")
    page.locator("#rank-mode input:checked").focus()
    page.keyboard.press("ArrowLeft")
    expect(view.locator(".pk-blurb")).to_contain_text("what their PokéAPI records say")

    box = page.locator("#pokemon-name input")
    shown = box.input_value()
    assert page.locator("#pk-names option").count() == 0  # the list is made when the box is first used
    box.focus()
    expect(page.locator("#pk-names option")).to_have_count(len(rows))
    page.wait_for_function("() => { const b = document.querySelector('#pokemon-name input'); "
                           "return b.selectionStart === 0 && b.selectionEnd === b.value.length; }")
    missing, missing_label = next((r["name"], r["display_name"]) for r in rows if r["image_embedding"] is None)
    page.keyboard.type(missing[:3])
    page.keyboard.press("Escape")  # closes the box and puts back the Pokémon shown, asking nothing
    expect(box).to_have_value(shown)
    page.wait_for_timeout(500)
    expect(page.locator("#similar-message .pk-message")).to_have_count(0)
    assert page.evaluate("document.activeElement !== document.querySelector('#pokemon-name input')")
    box.click()  # a click selects the name shown: typing replaces it
    page.keyboard.type(missing_label)  # its display name, as the list offers it
    page.keyboard.press("Enter")
    expect(view.locator(f'[data-chosen="{missing}"]')).to_have_count(1)
    expect(results).to_have_count(5)  # the number asked for stays
    # Image for a Pokémon without artwork fails: the message says so and the radio goes back to Text
    page.locator("#rank-mode label", has_text="Image").click()
    expect(page.locator("#similar-message")).to_contain_text("has no artwork")
    expect(page.locator("#rank-mode input:checked")).to_have_value("text")
    expect(view.locator(f'[data-chosen="{missing}"]')).to_have_count(1)


def test_ask_map_and_oddballs(page, rows, tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    expect(page.locator("#similar-view .pk-chosen")).to_be_visible()
    # the Ask tab opens with the first example answered
    page.get_by_role("tab", name="Ask").click()
    expect(page.locator("#ask-view")).to_contain_text("ice cream cone")
    assert all(images_loaded(page, "#ask-view")) and page.locator(ARTWORK_ANSWER + " .pk-tile").count() == 12
    # an example chip runs its question
    page.locator("#ask-examples").get_by_text("a grumpy purple ghost").click()
    expect(page.locator(ARTWORK_ANSWER + " .pk-heading")).to_contain_text("a grumpy purple ghost")
    # an empty question: a message next to the box, the answer stays
    page.locator("#question textarea").fill("   ")
    page.locator("#ask-button").click()
    expect(page.locator("#ask-message")).to_contain_text("The question is empty")
    expect(page.locator(ARTWORK_ANSWER + " .pk-heading")).to_contain_text("a grumpy purple ghost")
    assert not too_wide(page), too_wide(page)
    screenshot(page, tmp_path, "ask")

    # the map: drawn when the tab opens, artwork on hover, a click selects a Pokémon and lists its neighbours
    page.get_by_role("tab", name="Map").click()
    canvas = page.locator("#map-view canvas")
    expect(canvas).to_be_visible()
    expect(page.locator("#map-view .pk-map-legend")).to_contain_text("Generation I")
    expect(page.locator("#map-view .pk-map-chosen")).to_be_visible()  # starts on the Similar tab's Pokémon
    point = page.evaluate("""() => { let e = document.querySelector('#map-view canvas');
        while (e && !e.pkMapPoints) e = e.parentElement; return e.pkMapPoints[e.pkMapPoints.length - 1]; }""")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + point[0], box["y"] + point[1])
    if page.viewport_name == "desktop":
        expect(page.locator("#map-view .pk-map-tip img")).to_be_visible()
    canvas.click(position={"x": point[0], "y": point[1]})
    expect(page.locator("#map-view .pk-map-chosen b")).to_have_text(re.compile(".+"))
    assert page.locator("#map-view .pk-map-list li").count() >= 1
    # beside the plot: the dataset's own neighbour distances (cosine, text + image), in their order, not the map's
    expect(page.locator("#map-view .pk-map-side .pk-heading")).to_contain_text("cosine distance")
    listed = page.locator("#map-view .pk-map-list .pk-map-dist").evaluate_all(
        "els => els.map(e => parseFloat(e.dataset.distance))")
    picked = next(r for r in rows if r["name"] == page.locator("#map-view .pk-map-open").get_attribute("data-name"))
    assert len(listed) == page.locator("#map-view .pk-map-list li").count()
    assert listed == sorted(listed), listed  # non-decreasing: nearest first
    assert listed == pytest.approx(picked["neighbors"]["distances"][:len(listed)], rel=5e-3)
    page.locator("#map-view .pk-map-find").fill("missingno")
    page.locator("#map-view .pk-map-find").press("Enter")
    expect(page.locator("#map-view .pk-map-message")).to_contain_text("No Pokémon named “missingno”")
    expect(page.locator("#map-view .pk-map-chosen")).to_be_visible()
    assert not too_wide(page), too_wide(page)
    screenshot(page, tmp_path, "map")
    # "Similar Pokémon →" takes the map's choice to the first tab
    chosen = page.locator("#map-view .pk-map-chosen b").inner_text()
    page.locator("#map-view .pk-map-open").click()
    expect(page.locator("#similar-view .pk-chosen h2")).to_contain_text(chosen)

    page.get_by_role("tab", name="Oddballs").click()
    expect(page.locator("#oddballs-view .pk-tile").first).to_be_visible()
    assert all(images_loaded(page, "#oddballs-view"))
    assert not too_wide(page), too_wide(page)


def test_search_by_picture(page, tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    expect(page.locator("#similar-view .pk-chosen")).to_be_visible()
    page.get_by_role("tab", name="By picture").click()
    picture = tmp_path / "drawing.png"
    Image.new("RGB", (300, 200), (250, 180, 200)).save(picture)
    page.locator("#upload input[type=file]").set_input_files(str(picture))
    expect(page.locator("#picture-view .pk-heading")).to_contain_text("300×200")
    assert page.locator("#picture-view .pk-tile").count() == 12 and all(images_loaded(page, "#picture-view"))
    assert not too_wide(page), too_wide(page)
    screenshot(page, tmp_path, "picture")


def test_records_arithmetic_and_pca(page, rows, tmp_path):
    """Beyond the article: the records' answer beside the artwork's, embedding arithmetic, the PCA layout."""
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    expect(page.locator("#similar-view .pk-chosen")).to_be_visible()
    names = [r["name"] for r in rows]

    # Ask: the records answer the same question beside the artwork, for Pokémon with or without artwork
    page.get_by_role("tab", name="Ask").click()
    expect(page.locator(RECORDS_ANSWER + " .pk-heading")).to_contain_text("Records (what PokéAPI says about each Pokémon) that best answer")
    assert page.locator(RECORDS_ANSWER + " .pk-tile").count() == 12 and all(images_loaded(page, RECORDS_ANSWER))
    page.locator("#ask-record-examples").get_by_text("learns surf and fly").click()
    expect(page.locator(RECORDS_ANSWER + " .pk-heading")).to_contain_text("learns surf and fly")
    expect(page.locator(ARTWORK_ANSWER + " .pk-heading")).to_contain_text("learns surf and fly")
    picked = page.locator(RECORDS_ANSWER + " .pk-tile").first.get_attribute("data-name")
    assert picked in names
    assert not too_wide(page), too_wide(page)
    screenshot(page, tmp_path, "ask-records")
    page.locator(RECORDS_ANSWER + " .pk-tile").first.click()  # a record's tile explores that Pokémon
    expect(page.locator("#similar-view .pk-chosen h2")).to_be_visible()
    expect(page.get_by_role("tab", name="Similar")).to_have_attribute("aria-selected", "true")

    # Arithmetic: opens with an answer; an expression typed in; a bad one keeps the answer and says why
    page.get_by_role("tab", name="Sums").click()
    view = page.locator("#arithmetic-view")
    expect(view.locator(".pk-tile").first).to_be_visible()
    a, b, c = names[:3]
    box = page.locator("#arithmetic-expression input, #arithmetic-expression textarea").first
    box.fill(f"{a} + ({b} - {c})")
    page.locator("#arithmetic-button").click()
    expect(view.locator(".pk-heading")).to_contain_text(f"{a} + {b} − {c}")
    shown = [t.get_attribute("data-name") for t in view.locator(".pk-tile").all()]
    assert len(shown) == 12 and not {a, b, c} & set(shown)
    assert all(images_loaded(page, "#arithmetic-view"))
    box.fill(f"{a} - {a}")
    page.locator("#arithmetic-button").click()
    expect(page.locator("#arithmetic-message")).to_contain_text("The terms cancel out")
    expect(view.locator(".pk-heading")).to_contain_text(f"{a} + {b} − {c}")  # the answer stays
    box.fill(f"{a} + ({b} - {c})")
    page.locator("#arithmetic-space").get_by_text("Image (artwork)").click()  # the space switch recomputes
    expect(view.locator(".pk-heading")).to_contain_text("artwork (image) space")
    expect(page.locator("#arithmetic-message .pk-message")).to_have_count(0)
    assert not too_wide(page), too_wide(page)
    screenshot(page, tmp_path, "arithmetic")

    # the map: the layout switches to PCA, with the variance each axis explains, and back
    page.get_by_role("tab", name="Map").click()
    canvas = page.locator("#map-view canvas")
    expect(canvas).to_be_visible()
    expect(page.locator("#map-view .pk-map-axes")).to_contain_text("UMAP")
    points = "() => { let e = document.querySelector('#map-view canvas'); while (e && !e.pkMapPoints) " \
             "e = e.parentElement; return e.pkMapPoints; }"
    umap_points = page.evaluate(points)
    page.locator("#map-view select.pk-map-layout").select_option("pca")
    expect(page.locator("#map-view .pk-map-axes")).to_contain_text(re.compile(
        r"PCA: the x axis explains \d+\.\d% of the variance .*the y axis \d+\.\d%"))
    pca_points = page.evaluate(points)
    assert len(pca_points) == len(umap_points) == len(rows) and pca_points != umap_points
    point = pca_points[0]
    canvas.click(position={"x": point[0], "y": point[1]})
    expect(page.locator("#map-view .pk-map-chosen b")).to_have_text(re.compile(".+"))
    assert not too_wide(page), too_wide(page)
    screenshot(page, tmp_path, "map-pca")
    page.locator("#map-view select.pk-map-layout").select_option("umap")
    assert page.evaluate(points) == umap_points


def test_a_shared_link_opens_the_view_it_names(browser, server, rows):
    """A link naming a tab, a Pokémon and a mode opens that view; exploring rewrites the link; an Ask link asks."""
    import numpy as np
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    page = browser.new_page(viewport=VIEWPORTS["desktop"])
    try:
        with_art = [i for i, r in enumerate(rows) if r["image_embedding"] is not None]
        chosen = with_art[len(with_art) // 2]
        image = np.asarray([rows[i]["image_embedding"] for i in with_art], dtype=np.float64)
        image /= np.linalg.norm(image, axis=1, keepdims=True)
        cosines = image @ image[with_art.index(chosen)]
        cosines[with_art.index(chosen)] = -np.inf
        nearest = rows[with_art[int(np.argmax(cosines))]]["name"]  # its nearest by artwork, independently

        page.goto(f"{server}?tab=similar&pokemon={rows[chosen]['name']}&mode=image", wait_until="domcontentloaded")
        view = page.locator("#similar-view")
        expect(view.locator(f'[data-chosen="{rows[chosen]["name"]}"]')).to_have_count(1)
        expect(page.locator("#rank-mode input:checked")).to_have_value("image")
        expect(view.locator(".pk-results .pk-tile").first).to_have_attribute("data-name", nearest)

        view.locator(".pk-results .pk-tile").first.click()  # exploring: the link follows
        expect(view.locator(f'[data-chosen="{nearest}"]')).to_have_count(1)
        page.wait_for_function("name => location.search.includes('pokemon=' + name)", arg=nearest)
        assert "tab=similar" in page.evaluate("location.search") and "mode=image" in page.evaluate("location.search")

        page.goto(f"{server}?tab=ask&q=a%20small%20blue%20turtle", wait_until="domcontentloaded")
        expect(page.get_by_role("tab", name="Ask")).to_have_attribute("aria-selected", "true")
        expect(page.locator("#question textarea")).to_have_value("a small blue turtle")
        expect(page.locator(ARTWORK_ANSWER + " .pk-heading")).to_contain_text("a small blue turtle")
    finally:
        page.close()


FRAME_SAMPLER = """() => {
    window.pkFrames = []; window.pkShifts = [];
    new PerformanceObserver((list) => { for (const e of list.getEntries()) if (!e.hadRecentInput)
        window.pkShifts.push(e.value); }).observe({type: 'layout-shift', buffered: true});
    const sample = () => {
        const credits = document.getElementById('credits'), view = document.getElementById('similar-view');
        const controls = ['#pokemon-name input', '#rank-mode input', '#similar-k input',
                          '#similar-default-only input'].filter((s) => document.querySelector(s)).length;
        window.pkFrames.push({
            credits: credits && credits.getBoundingClientRect().height ? credits.getBoundingClientRect().top : null,
            view: view ? getComputedStyle(view).display !== 'none' && view.getBoundingClientRect().height > 0 : false,
            controls});
        requestAnimationFrame(sample);
    };
    requestAnimationFrame(sample);
}"""


def test_the_first_screen_does_not_jump_while_the_page_boots(browser, server):
    """On a phone with a slow CPU (4x, as Lighthouse's), frame by frame while Gradio draws the page: the credits
    never appear on the first screen only to be pushed off it, the Similar results never show before the four
    controls above them (which would push them down), and the layout shifts add up to less than 0.1 (Google's
    "good" cumulative layout shift)."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORTS["phone"], is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": 4})
        page.add_init_script(f"({FRAME_SAMPLER})()")
        page.goto(server, wait_until="load")
        expect(page.locator("#similar-view .pk-tile").first).to_be_visible(timeout=60_000)
        # the stylesheet's rule holds the results back through their column: it must still be the controls' column
        expect(page.locator(".column:has(> #similar-view) > #similar-controls")).to_have_count(1)
        page.wait_for_timeout(1500)
        frames = page.evaluate("window.pkFrames")
        height = VIEWPORTS["phone"]["height"]
        assert any(f["credits"] is not None for f in frames) and any(f["view"] for f in frames)
        on_screen = [round(f["credits"]) for f in frames if f["credits"] is not None and f["credits"] < height]
        assert not on_screen, f"the credits were drawn on the first screen (top {on_screen[0]} px) before the tab"
        early = [f["controls"] for f in frames if f["view"] and f["controls"] < 4]
        assert not early, f"the results were shown with only {early[0]} of the 4 controls above them"
        shifts = page.evaluate("window.pkShifts")
        assert sum(shifts) < 0.1, f"layout shifts add up to {sum(shifts):.3f}: {shifts}"
    finally:
        context.close()
