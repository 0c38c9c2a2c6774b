"""The executor: one namespace per guide, output capture, locals, directives, markers and errors."""

from __future__ import annotations

import time

from doc_runner.execute import GuideRun
from doc_runner.result import Status
from doc_runner.settings import Settings

TRIPY = Settings(timeout=30)


def test_blocks_share_one_namespace_in_order_and_functions_see_their_imports(run_text):
    first, second = run_text(
        """
        ```py
        import math
        def area(r):
            return math.pi * r * r
        ```

        ```py
        print(round(area(1.0), 2), np.zeros(2))
        ```
        """
    )
    assert first.status is Status.PASSED
    assert second.output == "3.14 [0. 0.]\n"


def test_each_guide_gets_a_fresh_namespace(run_text):
    (made,) = run_text("```py\nvalue = 1\nimport json\njson.dumps = None\n```\n")
    (used,) = run_text("```py\nimport json\nprint(json.dumps([1]), value)\n```\n")
    assert made.status is Status.PASSED
    assert used.status is Status.FAILED and "NameError: name 'value' is not defined" in used.error


def test_output_captures_python_and_native_writes_in_order_without_ansi(run_text):
    (result,) = run_text(
        """
        ```py
        import os, sys
        print("\\x1b[31mred\\x1b[0m")
        os.write(1, b"fd one\\n")
        print("to stderr", file=sys.stderr)
        os.write(2, b"fd two\\n")
        import ctypes
        libc = ctypes.CDLL(None)
        libc.printf(b"from C printf\\n")
        ```
        """
    )
    streams = [(o["name"], o["text"]) for o in result.outputs if o["output_type"] == "stream"]
    # Each stream in order; native writes come in at the next Python-level write (C's printf at the end).
    assert streams == [("stdout", "red\nfd one\n"), ("stderr", "to stderr\n"), ("stdout", "from C printf\n")] + [
        ("stderr", "fd two\n")
    ]
    # printf's return value is the block's last expression: displayed, as in Jupyter
    assert result.outputs[-1] == {"output_type": "execute_result", "data": {"text/plain": "14"}, "metadata": {}} | {
        "execution_count": 1
    }


def test_by_default_only_new_library_objects_are_shown(run_text):
    (result,) = run_text(
        """
        ```py
        import tripy
        count = 3
        t = tripy.ones((2,))
        dt = tripy.int8
        ```
        """,
        TRIPY,
    )
    assert [v.name for v in result.variables] == ["t", "dt"]
    assert result.variables[0].text.startswith(">>> t\ntensor([1.0000, 1.0000], dtype=float32")
    assert result.variables[1].text == ">>> dt\nint8"


def test_print_locals_shows_exactly_the_names_given(run_text):
    (result,) = run_text("```py\n# doc: print-locals b a\na, b = 1, 'x'\nc = np.ones(1)\n```\n")
    assert result.locals_text == ">>> b\n'x'\n\n>>> a\n1"


def test_print_locals_naming_an_undefined_variable_is_an_error(run_text):
    (result,) = run_text("Text\n\n```py\n# doc: print-locals nope\nx = 1\n```\n")
    assert result.status is Status.FAILED
    assert result.location == "guide.md:4"
    assert "'nope'" in result.error


def test_no_print_locals_hides_all_or_just_the_names_given(run_text):
    hide_all, hide_one = run_text(
        """
        ```py
        # doc: no-print-locals
        a = tp.ones((1,))
        ```

        ```py
        # doc: no-print-locals a
        a = tp.ones((1,))
        b = tp.zeros((1,))
        ```
        """,
        TRIPY,
    )
    assert hide_all.variables == []
    assert [v.name for v in hide_one.variables] == ["b"]


def test_a_module_shows_its_printout_then_its_state_dict(run_text):
    (result,) = run_text("```py\n# doc: print-locals layer\nlayer = tp.Linear(2, 1)\n```\n", TRIPY)
    text = result.locals_text
    assert text.startswith(">>> layer\nLinear(")
    head, _, mapping = text.partition("\n\n>>> layer.state_dict()\n")
    assert mapping.splitlines()[0] == "{" and mapping.splitlines()[-1] == "}"
    assert "    'weight': tensor(" in mapping and "    'bias': tensor(" in mapping


def test_no_output_runs_but_renders_no_output(run_text):
    (result,) = run_text("```py\n# doc: no-output\nprint('hidden')\nshown = 1\n```\n")
    assert result.status is Status.PASSED and result.output == ""


def test_no_eval_blocks_are_never_run(run_text, guide_of):
    text = "```py\n# doc: no-eval\nraise SystemExit('must not run')\n```\n"
    assert run_text(text) == []
    (block,) = guide_of(text).code_blocks
    assert not block.runs and block.shown_source == "raise SystemExit('must not run')\n"


def test_allow_exception_renders_the_message_as_output(run_text):
    (any_error, typed) = run_text(
        """
        ```py
        # doc: allow-exception
        print("before")
        raise RuntimeError("expected")
        ```

        ```py
        # doc: allow-exception KeyError
        {}["k"]
        ```
        """
    )
    assert any_error.status is Status.PASSED
    assert any_error.output == "before\nRuntimeError: expected\n"
    assert typed.status is Status.PASSED and typed.output == "KeyError: 'k'\n"


def test_allow_exception_fails_when_nothing_or_another_type_is_raised(run_text):
    (nothing,) = run_text("```py\n# doc: allow-exception ValueError\nx = 1\n```\n")
    assert nothing.status is Status.FAILED and nothing.location == "guide.md:2"
    assert "expected to raise ValueError" in nothing.error
    (other,) = run_text("```py\n# doc: allow-exception ValueError\n{}['k']\n```\n")
    assert other.status is Status.FAILED and "KeyError" in other.error and other.location == "guide.md:3"


def test_allow_exception_matches_base_classes(run_text):
    (result,) = run_text("```py\n# doc: allow-exception LookupError\n{}['k']\n```\n")
    assert result.status is Status.PASSED


def test_omit_runs_the_line_and_ignore_line_shows_it_without_running(run_text):
    (result,) = run_text(
        """
        ```py
        import os  # doc: omit
        os.remove("/definitely/not/here")  # doc: ignore-line
        print(os.sep)
        ```
        """
    )
    assert result.status is Status.PASSED
    assert result.code == 'os.remove("/definitely/not/here")\nprint(os.sep)\n'
    assert result.output == "/\n"


def test_xfail_region_renders_the_error_and_does_not_stop_the_guide(run_text):
    failing, passing, after = run_text(
        """
        <!-- Tripy: TEST: XFAIL Start -->
        ```py
        1 / 0
        ```

        ```py
        ok = 1
        ```
        <!-- Tripy: TEST: XFAIL End -->

        ```py
        print("still runs")
        ```
        """
    )
    assert failing.status is Status.XFAILED and "ZeroDivisionError" in failing.output
    assert passing.status is Status.XPASSED
    assert after.status is Status.PASSED and after.output == "still runs\n"


def test_expected_stdout_matches_literally_or_as_a_regular_expression(run_text):
    literal, regex = run_text(
        """
        ```py
        print("tensor([1, 2], shape=(2,))")
        ```

        <!-- Tripy: TEST: EXPECTED_STDOUT Start -->
        ```
        tensor([1, 2], shape=(2,))
        ```
        <!-- Tripy: TEST: EXPECTED_STDOUT End -->

        ```py
        import time
        print(f"took {time.perf_counter():.3f} s")
        ```

        <!-- Tripy: TEST: EXPECTED_STDOUT Start -->
        ```text
        took \\d+\\.\\d{3} s
        ```
        <!-- Tripy: TEST: EXPECTED_STDOUT End -->
        """
    )
    assert literal.status is Status.PASSED
    assert regex.status is Status.PASSED


def test_expected_stdout_mismatch_fails_with_a_diff(run_text):
    (result,) = run_text(
        """
        ```py
        print("one")
        print("two")
        ```

        <!-- Tripy: TEST: EXPECTED_STDOUT Start -->
        ```
        one
        three
        ```
        <!-- Tripy: TEST: EXPECTED_STDOUT End -->
        """
    )
    assert result.status is Status.FAILED
    assert result.location == "guide.md:7"
    assert "-three\n+two" in result.error


def test_doc_omit_runs_the_block_and_no_print_locals_region_hides_variables(guide_of):
    guide = guide_of(
        """
        <!-- Tripy: DOC: OMIT Start -->
        ```py
        print("setup ran")
        ```
        <!-- Tripy: DOC: OMIT End -->

        <!-- Tripy: DOC: NO_PRINT_LOCALS Start -->
        ```py
        t = tp.ones((1,))
        ```
        <!-- Tripy: DOC: NO_PRINT_LOCALS End -->
        """
    )
    omitted, quiet = guide.runnable_blocks
    assert not omitted.shows_code
    with GuideRun(guide, TRIPY) as run:
        assert run.run(omitted).output == "setup ran\n"
        assert run.run(quiet).variables == []


def test_test_ignore_blocks_are_neither_run_nor_listed(run_text):
    results = run_text(
        """
        <!-- Tripy: TEST: IGNORE Start -->
        ```py
        raise SystemExit("must not run")
        ```
        <!-- Tripy: TEST: IGNORE End -->
        """
    )
    assert results == []


def test_syntax_error_reports_the_guide_line(run_text):
    (result,) = run_text("# T\n\n```py\nx = 1\ny = (\n```\n")
    assert result.status is Status.FAILED
    assert result.location == "guide.md:5"
    assert 'File "guide.md", line 5' in result.error and "SyntaxError" in result.error


def test_exception_traceback_frames_are_guide_lines(run_text):
    (result,) = run_text(
        """
        Intro.

        ```py
        def inner():
            raise ValueError("bad value")

        inner()
        ```
        """
    )
    assert result.status is Status.FAILED
    assert result.location == "guide.md:5"
    assert result.error.splitlines() == [
        "Traceback (most recent call last):",
        '  File "guide.md", line 7, in <module>',
        "    inner()",
        '  File "guide.md", line 5, in inner',
        '    raise ValueError("bad value")',
        "ValueError: bad value",
    ]


def test_a_block_that_never_ends_is_stopped_at_the_timeout(run_text):
    started = time.perf_counter()
    (result,) = run_text("Text\n\n```py\nwhile True:\n    pass\n```\n", Settings(pre_imports={}, timeout=0.5))
    assert time.perf_counter() - started < 5
    assert result.status is Status.FAILED
    assert "the block at guide.md:3 did not finish within 0.5 s" in result.error
    assert result.error_line in (4, 5)


def test_the_timeout_cannot_be_swallowed_by_except_exception(run_text):
    (result,) = run_text(
        "```py\nimport time\ntry:\n    time.sleep(30)\nexcept Exception:\n    pass\n```\n",
        Settings(pre_imports={}, timeout=0.3),
    )
    assert result.status is Status.FAILED and "did not finish" in result.error


def test_blocks_after_a_failure_are_skipped_naming_it(run_text):
    ok, bad, later = run_text("```py\na = 1\n```\n\n```py\nraise KeyError('x')\n```\n\n```py\nb = 2\n```\n")
    assert (ok.status, bad.status, later.status) == (Status.PASSED, Status.FAILED, Status.SKIPPED)
    assert later.skipped_because == 5
    assert later.error == "skipped: the block at guide.md:5 failed"


def test_a_failing_pre_import_only_errors_when_used(run_text):
    settings = Settings(pre_imports={"np": "numpy", "missing": "no_such_module_xyz"})
    unused, used = run_text("```py\nx = np.ones(1)\n```\n\n```py\nmissing.thing\n```\n", settings)
    assert unused.status is Status.PASSED
    assert used.status is Status.FAILED
    assert "pre-import 'missing' (import no_such_module_xyz as missing) failed" in used.error


def test_execution_mode_off_runs_nothing(run_text):
    (result,) = run_text("```py\nraise SystemExit\n```\n", Settings(execution_mode="off"))
    assert result.status is Status.NOT_RUN


def test_results_round_trip_as_plain_data(run_text):
    (result,) = run_text("```py\n# doc: print-locals x\nx = 1\nprint(x)\n```\n")
    from doc_runner.result import BlockResult

    assert BlockResult.from_dict(result.to_dict()) == result


def test_warnings_are_part_of_the_output_every_time(run_text):
    text = "```py\nimport warnings\ndef warn():\n    warnings.warn('careful', UserWarning)\nwarn()\n```\n"
    first, again = run_text(text + "\n```py\nwarn()\n```\n")
    assert "UserWarning: careful" in first.output
    assert "UserWarning: careful" in again.output
