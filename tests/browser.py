"""Debian's Chromium, headless: a page's DOM after its scripts ran, and a screenshot of it.

Each call is a fresh browser with an empty profile, whose whole process group is killed however
it ends. The flags keep it off the network but for the page's own loopback server."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from tests.kafka_harness import REPO

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)
TIMEOUT_S = 60.0
SCRIPT_BUDGET_MS = 5000
"""Virtual time the page's scripts get before the DOM is read (charts draw well within it)."""


@dataclass(frozen=True)
class RenderedPage:
    dom: str
    screenshot: Path


def _run(arguments: list[str], profile: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: run make chromium"
    process = subprocess.Popen(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=TIMEOUT_S)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def render(url: str, artifact_name: str) -> RenderedPage:
    """The DOM of ``url`` after its scripts ran, and a screenshot in test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"{artifact_name}.png"
    screenshot.unlink(missing_ok=True)
    budget = f"--virtual-time-budget={SCRIPT_BUDGET_MS}"
    with tempfile.TemporaryDirectory(prefix="mirror-chromium-") as profile:
        dumped = _run([budget, "--dump-dom", url], profile)
    assert dumped.returncode == 0 and dumped.stdout.strip(), dumped.stderr[-2000:]
    with tempfile.TemporaryDirectory(prefix="mirror-chromium-") as profile:
        shot = _run([budget, f"--screenshot={screenshot}", url], profile)
    assert shot.returncode == 0 and screenshot.is_file(), shot.stderr[-2000:]
    return RenderedPage(dumped.stdout, screenshot)


@dataclass
class Element:
    tag: str
    attributes: dict[str, str]
    ancestors: tuple[Element, ...] = field(repr=False, compare=False)
    """Outermost first."""
    text: str = ""

    def within(self, **attributes: str) -> bool:
        """Whether some ancestor has these attributes (``data_x`` is ``data-x``)."""
        wanted = _attribute_names(attributes)
        return any(
            all(ancestor.attributes.get(name) == value for name, value in wanted.items())
            for ancestor in self.ancestors
        )


class _Collector(HTMLParser):
    """Every element of a DOM with its attributes and its whole text, for assertions."""

    VOID = frozenset(
        {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
    )

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self._open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs}, tuple(self._open))
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data


def elements(dom: str, tag: str | None = None, **attributes: str) -> list[Element]:
    """Elements with this tag (any if None) whose attributes include these (``data_x`` is
    ``data-x``)."""
    collector = _Collector()
    collector.feed(dom)
    wanted = _attribute_names(attributes)
    return [
        element
        for element in collector.elements
        if (tag is None or element.tag == tag)
        and all(element.attributes.get(name) == value for name, value in wanted.items())
    ]


def _attribute_names(attributes: dict[str, str]) -> dict[str, str]:
    return {name.replace("_", "-"): value for name, value in attributes.items()}


def text(element: Element) -> str:
    return " ".join(element.text.split())
