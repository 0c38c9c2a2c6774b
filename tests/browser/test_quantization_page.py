"""The built quantization guide in a real browser (Debian's headless Chromium via Playwright).

Builds the whole site with ``-W`` into ``_build/browser/html``, then checks what a reader sees
and does: the Output block, the collapsed "Local Variables" that opens on a click, and the
copy button. A screenshot is saved as ``_build/browser/quantization.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_setup import BUILD, CHROMIUM, CHROMIUM_ARGS
from playwright.sync_api import Page, expect, sync_playwright

# Record what the copy button copies, whichever clipboard API it uses.
CLIPBOARD_SPY = """
window.__copied = [];
const realExec = document.execCommand.bind(document);
document.execCommand = function (command, ...rest) {
  if (command === "copy") {
    const el = document.activeElement;
    const text = el && typeof el.value === "string"
      ? el.value.substring(el.selectionStart, el.selectionEnd)
      : String(document.getSelection());
    window.__copied.push(text);
  }
  return realExec(command, ...rest);
};
if (navigator.clipboard) {
  navigator.clipboard.writeText = (text) => { window.__copied.push(text); return Promise.resolve(); };
}
"""

QUANT_LINEAR_CODE = "quant_linear = tp.Linear(\n    4,\n    2,\n    quant_dtype=tp.int8,\n    weight_quant_dim=None,\n)"


@pytest.fixture(scope="module")
def page(site: Path) -> Iterator[Page]:
    assert CHROMIUM.exists(), "Debian's chromium is needed: apt-get install -y chromium (.ci/run does it)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(CLIPBOARD_SPY)
        page = context.new_page()
        page.goto((site / "docs" / "guides" / "quantization.html").as_uri())
        yield page
        browser.close()


def quant_linear_block(page: Page):
    """The first code block of the "Quantized modules" section, and what follows it."""
    return page.locator("div.highlight-py", has_text="quant_linear = tp.Linear(").first


def test_the_page_has_no_theme_error(page: Page):
    # Furo marks an inline table of contents it was not told to keep with a red ERROR.
    assert page.locator(".contents:not(.this-will-duplicate-information-and-it-is-still-useful-here)").count() == 0


def test_output_block_is_visible(page: Page):
    output = page.locator("div.doc-runner-output").first
    expect(output).to_be_visible()
    expect(output.locator("p.doc-runner-title")).to_have_text("Output")
    expect(output.locator("pre")).to_contain_text("dtype=float32, loc=cpu:0, shape=(2, 3))")


def test_local_variables_are_collapsed_and_open_on_a_click(page: Page):
    details = page.locator("div.highlight-py:has-text('quant_linear = tp.Linear(') + details.doc-runner-locals").first
    summary = details.locator("summary")
    content = details.locator("pre")
    expect(summary).to_be_visible()
    expect(summary).to_have_text("Local Variables")
    expect(content).to_be_hidden()
    assert details.evaluate("d => d.open") is False
    summary.click()
    expect(content).to_be_visible()
    assert details.evaluate("d => d.open") is True
    expect(content).to_contain_text(">>> quant_linear\nLinear(")
    expect(content).to_contain_text(">>> quant_linear.state_dict()")
    details.scroll_into_view_if_needed()
    BUILD.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(BUILD / "quantization.png"), full_page=False)
    assert (BUILD / "quantization.png").stat().st_size > 10_000


def test_copy_button_copies_the_code_without_directive_lines(page: Page):
    block = quant_linear_block(page)
    block.hover()
    button = block.locator("button.copybtn")
    button.click()
    page.wait_for_function("window.__copied.length > 0")
    copied = page.evaluate("window.__copied[window.__copied.length - 1]")
    assert copied.rstrip("\n") == QUANT_LINEAR_CODE
    assert "# doc:" not in copied
