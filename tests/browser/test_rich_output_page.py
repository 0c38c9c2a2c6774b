"""The rich-output guide in a real browser (Debian's headless Chromium via Playwright): each kind of output
is there and looks like itself. A screenshot is saved as ``_build/browser/rich-output.png``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_setup import BUILD, CHROMIUM, CHROMIUM_ARGS
from playwright.sync_api import Page, expect, sync_playwright


@pytest.fixture(scope="module")
def page(site: Path) -> Iterator[Page]:
    assert CHROMIUM.exists(), "Debian's chromium is needed: apt-get install -y chromium (.ci/run does it)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto((site / "docs" / "guides" / "rich-output.html").as_uri())
        yield page
        browser.close()


def box(page: Page, element) -> dict:
    return element.evaluate("e => { const r = e.getBoundingClientRect(); return {w: r.width, h: r.height}; }")


def test_the_matplotlib_figure_is_a_loaded_image(page: Page):
    image = page.locator("img.doc-runner-image")
    expect(image).to_have_count(1)
    image.scroll_into_view_if_needed()
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") > 200


def test_the_dataframe_is_a_table(page: Page):
    table = page.locator("table.dataframe")
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table.locator("tbody tr").nth(1)).to_contain_text("per-channel")


def test_the_repr_html_object_and_markdown_render_as_html(page: Page):
    badge = page.locator("span.demo-badge")
    expect(badge).to_have_text("int8 ready")
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(34, 187, 119)"
    expect(page.locator("div.doc-runner-display strong", has_text="positive")).to_be_visible()


def test_latex_is_typeset_as_math(page: Page):
    math = page.locator("div.doc-runner-math math")
    expect(math).to_be_visible()
    fraction = math.locator("mfrac")
    size = box(page, fraction)
    assert size["h"] > 15  # a real fraction, one term above the other, not a line of LaTeX source
    expect(page.locator("div.doc-runner-math")).not_to_contain_text("\\frac")


def test_the_last_expression_value_is_shown(page: Page):
    value = page.locator("div.doc-runner-display", has_text="tensor(").first
    expect(value).to_be_visible()
    expect(value).to_contain_text("15.0000")


def test_stderr_is_shown_apart_from_stdout(page: Page):
    stderr = page.locator("div.doc-runner-stderr")
    expect(stderr).to_have_count(1)
    expect(stderr.locator("p.doc-runner-title")).to_have_text("stderr")
    expect(stderr.locator("pre")).to_have_text("step 5/5")
    before = stderr.locator("xpath=preceding-sibling::div[contains(@class, 'doc-runner-output')][1]//pre")
    expect(before).to_have_text("calibrating...")


def test_a_long_output_scrolls_in_a_bounded_box(page: Page):
    long = page.locator("div.doc-runner-output pre", has_text="row 59").first
    long.scroll_into_view_if_needed()
    sizes = long.evaluate("e => [e.scrollHeight, e.clientHeight]")
    assert sizes[0] > sizes[1] > 100
    assert box(page, long)["h"] < 700


def test_hidden_input_opens_on_a_click(page: Page):
    details = page.locator("details.doc-runner-input")
    code = details.locator("div.highlight-py")
    expect(details.locator("summary")).to_have_text("Show code")
    expect(code).to_be_hidden()
    output = page.locator("div.doc-runner-output pre", has_text="collapsed above its output")
    expect(output).to_be_visible()
    details.scroll_into_view_if_needed()
    BUILD.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(BUILD / "rich-output.png"), full_page=True)
    assert (BUILD / "rich-output.png").stat().st_size > 50_000
    details.locator("summary").click()
    expect(code).to_be_visible()
    expect(code).to_contain_text("print(")


def test_the_notebook_and_script_downloads_exist(page: Page, site: Path):
    links = page.locator("p.doc-runner-downloads a")
    expect(links).to_have_count(2)
    for link in links.all():
        assert (site / "docs" / "guides" / link.get_attribute("href")).is_file()
