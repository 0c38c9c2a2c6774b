"""tp.logger: verbosity levels and sets, the use_verbosity context, and messages on standard error."""

import pytest

import tripy as tp


@pytest.fixture(autouse=True)
def restore_verbosity():
    previous = tp.logger.verbosity
    yield
    tp.logger.verbosity = previous


def test_levels_enable_themselves_and_the_more_severe(capsys):
    tp.logger.verbosity = "info"
    assert [k for k in ("error", "warning", "info", "verbose", "ir") if tp.logger.enabled(k)] == [
        "error",
        "warning",
        "info",
    ]
    tp.logger.info("shown")
    tp.logger.verbose("hidden")
    tp.logger.warning("careful")
    assert capsys.readouterr().err == "[I] shown\n[W] careful\n"


def test_a_set_enables_exactly_its_kinds(capsys):
    tp.logger.verbosity = {"verbose"}
    tp.logger.error("not shown")
    tp.logger.verbose("shown")
    assert capsys.readouterr().err == "[V] shown\n"
    assert tp.logger.verbosity == frozenset({"verbose"})


def test_use_verbosity_restores_even_after_an_error():
    tp.logger.verbosity = "warning"
    with pytest.raises(RuntimeError):
        with tp.logger.use_verbosity("verbose"):
            assert tp.logger.enabled("verbose")
            raise RuntimeError
    assert tp.logger.verbosity == "warning" and not tp.logger.enabled("info")


def test_nvtripy_level_names_are_accepted():
    tp.logger.verbosity = "ir"
    assert tp.logger.enabled("verbose") and tp.logger.enabled("timing")


@pytest.mark.parametrize("bad", ["loud", {"info", "debug"}, 3])
def test_unknown_verbosity_is_an_error(bad):
    with pytest.raises(tp.TripyException, match=r"logger: `verbosity` must be one of 'error', 'warning', 'info'"):
        tp.logger.verbosity = bad
    assert tp.logger.verbosity == "warning"
