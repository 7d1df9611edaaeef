"""README.rst renders cleanly and states the two set-up commands."""

from pathlib import Path

import docutils.core
import docutils.utils

README = Path(__file__).resolve().parent.parent / "README.rst"


def test_readme_renders_without_warnings():
    text = README.read_text(encoding="utf-8")
    # halt_level=2 turns any docutils warning (a malformed table, say) into an error
    docutils.core.publish_doctree(text, settings_overrides={"halt_level": 2, "report_level": 2})


def test_readme_gives_the_two_setup_commands():
    text = README.read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text
