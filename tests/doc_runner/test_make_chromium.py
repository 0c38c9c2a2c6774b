"""``make test`` sets up Debian's chromium for the browser tests itself (the ``chromium`` target).

The target is run with a stand-in for apt-get and a chromium path in a temporary folder, so nothing is
installed: what is checked is what it decides and says.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE_APT = """\
#!/bin/sh
echo "$@" >> "{log}"
if [ "$1" = install ]; then printf '#!/bin/sh\\n' > "{chromium}"; chmod +x "{chromium}"; fi
"""


def make_chromium(tmp_path: Path, apt: str) -> subprocess.CompletedProcess[str]:
    chromium = tmp_path / "chromium"
    return subprocess.run(
        ["make", "-s", "-C", str(ROOT), "chromium", f"CHROMIUM={chromium}", f"APT_GET={apt}"],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def fake_apt(tmp_path: Path) -> Path:
    path = tmp_path / "apt-get"
    path.write_text(FAKE_APT.format(log=tmp_path / "apt.log", chromium=tmp_path / "chromium"))
    path.chmod(0o755)
    return path


def test_make_test_sets_up_chromium_first():
    planned = subprocess.run(["make", "-n", "-C", str(ROOT), "test"], capture_output=True, text=True, check=True)
    commands = planned.stdout
    assert "installing Debian's chromium" in commands
    assert commands.index("installing Debian's chromium") < commands.index("-m pytest")


def test_chromium_present_means_nothing_to_do(tmp_path, fake_apt):
    (tmp_path / "chromium").write_text("#!/bin/sh\n")
    (tmp_path / "chromium").chmod(0o755)
    done = make_chromium(tmp_path, str(fake_apt))
    assert (done.returncode, done.stdout) == (0, "")
    assert not (tmp_path / "apt.log").exists()


def test_chromium_missing_is_installed_when_possible(tmp_path, fake_apt):
    done = make_chromium(tmp_path, str(fake_apt))
    if os.getuid() != 0:  # not possible: the one line saying what to install
        assert done.returncode != 0 and "apt-get install -y chromium" in done.stdout
        return
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "apt.log").read_text().splitlines() == ["update -qq", "install -y -qq chromium"]
    assert (tmp_path / "chromium").exists()


def test_chromium_missing_and_no_apt_get_is_one_clear_line(tmp_path):
    done = make_chromium(tmp_path, str(tmp_path / "no-apt-get-here"))
    assert done.returncode != 0
    (line,) = done.stdout.splitlines()
    assert line == (
        f"make test: the browser tests need Debian's chromium at {tmp_path / 'chromium'}: "
        "run 'sudo apt-get install -y chromium'"
    )
