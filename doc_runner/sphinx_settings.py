"""doc_runner's settings in Sphinx: registered from their declarations, validated when the configuration
is read (a wrong value stops the build with one line; a misspelt name is a warning at its ``conf.py``
line), and the ``doc-runner-settings`` directive that renders the table of every setting."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.util import logging

from doc_runner.settings import PYTEST, SPHINX, Declaration, SettingError, Settings, declarations, unknown_names

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


_SETTINGS: dict[str, Settings] = {}


def settings_of(config: Config) -> Settings:
    """The :class:`Settings` named ``doc_runner_*`` in ``conf.py``; a wrong value is a ``ConfigError``.
    (Remembered by the values' text: the extension asks for every document.)"""
    values = {d.name: getattr(config, d.key) for d in declarations(SPHINX)}
    key = repr(sorted(values.items()))
    if key not in _SETTINGS:
        try:
            settings = Settings.from_values(values)
        except SettingError as exc:
            raise ConfigError(str(exc)) from None
        _SETTINGS.clear()
        _SETTINGS[key] = settings
    return _SETTINGS[key]


def assigned_names(conf_py: Path) -> list[tuple[str, int]]:
    """The names ``conf_py`` assigns at its top level, with their lines (read, not run)."""
    try:
        tree = ast.parse(conf_py.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return []
    found = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for target in targets:
            if isinstance(target, ast.Name):
                found.append((target.id, node.lineno))
    return found


def _config_inited(app: Sphinx, config: Config) -> None:
    """Validate every setting and warn about misspelt names; serve the stylesheet (added here, once, so
    the configuration Sphinx compares between builds does not change).

    A wrong value is one error line at its ``conf.py`` line; the build then executes nothing and fails
    (Sphinx would print a crash report for an exception raised here)."""
    conf_py = Path(app.confdir) / "conf.py"
    lines = dict(assigned_names(conf_py))
    wrong = False
    for declaration in declarations(SPHINX):
        try:
            declaration.check(declaration.name, getattr(config, declaration.key))
        except SettingError as exc:
            line = lines.get(declaration.key)
            logger.error(str(exc), location=f"{conf_py}:{line}" if line else None, type="doc_runner", subtype="config")
            setattr(config, declaration.key, declaration.default)
            wrong = True
    if wrong:
        config.doc_runner_execution_mode = "off"
        app.connect("build-finished", _fail)
    for name, line in lines.items():
        for message in unknown_names([name], SPHINX):
            logger.warning(message, location=f"{conf_py}:{line}", type="doc_runner", subtype="config")
    if str(STATIC) not in config.html_static_path:
        config.html_static_path.append(str(STATIC))


def _fail(app: Sphinx, exception: BaseException | None) -> None:
    logger.info("doc_runner executed no guide: its settings are wrong (the errors above)")
    app.statuscode = app.statuscode or 1


def register(app: Sphinx) -> None:
    """Register every Sphinx setting from its declaration (doc_runner checks the values itself)."""
    for declaration in declarations(SPHINX):
        app.add_config_value(declaration.key, declaration.default, "env" if declaration.rebuilds else "", Any)
    app.connect("config-inited", _config_inited, priority=400)
    app.add_directive("doc-runner-settings", SettingsTable)


def _cell(text: str, literal: bool = False) -> nodes.entry:
    paragraph = nodes.paragraph()
    if literal:
        paragraph += nodes.literal(text, text)
    else:  # ``double backquotes`` mark code in the help texts
        for index, part in enumerate(text.split("``")):
            if part:
                paragraph += nodes.literal(part, part) if index % 2 else nodes.Text(part)
    return nodes.entry("", paragraph)


def _where(declaration: Declaration) -> str:
    places = {SPHINX: "``conf.py``", PYTEST: "pytest ini"}
    return ", ".join(places[p] for p in (SPHINX, PYTEST) if p in declaration.where)


def table_rows() -> list[list[str]]:
    """One row per setting: name, where it is set, type, default, help (``code`` marked as in the help)."""
    return [[d.key, _where(d), d.type, repr(d.default), d.help] for d in declarations()]


class SettingsTable(Directive):
    """``doc-runner-settings``: the table of every setting, generated from their declarations."""

    def run(self) -> list[nodes.Node]:
        header = ["setting", "set in", "type", "default", "meaning"]
        widths = [22, 12, 14, 14, 38]
        table = nodes.table(classes=["doc-runner-settings"])
        group = nodes.tgroup(cols=len(header))
        table += group
        group += [nodes.colspec(colwidth=w) for w in widths]
        head, body = nodes.thead(), nodes.tbody()
        head += nodes.row("", *[_cell(h) for h in header])
        for key, where, kind, default, meaning in table_rows():
            row = [_cell(key, True), _cell(where), _cell(kind), _cell(default, True), _cell(meaning)]
            body += nodes.row("", *row)
        group += [head, body]
        return [table]
