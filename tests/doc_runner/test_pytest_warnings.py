"""pytest shows a guide's near-miss directives and markers in its warnings summary, at the guide's line."""

from __future__ import annotations

import pytest

INI = """
[pytest]
addopts = -p no:hypothesispytest -p no:cacheprovider
doc_runner_pre_imports = np=numpy
"""

GUIDE = """\
# Near misses

<!-- tripy: TEST: IGNORE Start -->

```py
# Doc: no-output
x = 1
```
"""


def test_near_misses_are_in_the_warnings_summary_at_the_guides_lines(pytester: pytest.Pytester):
    pytester.makeini(INI)
    (pytester.path / "near.md").write_text(GUIDE)
    result = pytester.runpytest("near.md")
    result.assert_outcomes(passed=1, warnings=2)
    out = result.stdout.str()
    assert "near.md:3: GuideWarning: '<!-- tripy" in out and "did you mean '<!-- Tripy: TEST: IGNORE Start -->'?" in out
    assert "near.md:6: GuideWarning: '# Doc: no-output'" in out and "did you mean '# doc: no-output'?" in out
