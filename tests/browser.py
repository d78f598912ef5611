"""A real JupyterLab (or Notebook 7, or Voila) on 127.0.0.1, driven by Debian's Chromium
through Playwright.

Used by the browser tests: no browser download (``executable_path``), no network but
loopback. With ``CI`` set, a missing Chromium fails the test instead of skipping it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str:
    path = os.environ.get("LSTM_WIDGETS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        msg = "Chromium not found: install it with `apt-get install chromium` (Debian) to run the browser tests."
        if os.environ.get("CI"):
            pytest.fail(msg + " CI is set, so this test must run, not skip.")
        pytest.skip(msg)
    try:
        import playwright  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed; `pip install -e '.[test]'`.")
        pytest.skip("playwright is not installed")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def notebook(cells: list[str], markdown_first: str | None = None) -> dict:
    """An .ipynb dict with a python3 kernelspec (or a kernel picker blocks the page)."""
    nb_cells = []
    if markdown_first:
        nb_cells.append({"cell_type": "markdown", "metadata": {}, "source": markdown_first})
    for src in cells:
        nb_cells.append({"cell_type": "code", "metadata": {}, "source": src, "outputs": [], "execution_count": None})
    return {
        "cells": nb_cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@contextlib.contextmanager
def jupyterlab(root: Path, timeout: float = 120, theme: str | None = None, app: str = "lab",
               notebook: str | None = None):
    """Start a Jupyter front end on a free loopback port with no token; yield its base URL.

    ``app``: "lab" (JupyterLab), "notebook" (Notebook 7), or "voila" (Voila serving
    ``notebook``, a file in ``root``, as an app without code, the classroom view).
    ``theme``: e.g. "JupyterLab Dark"; JupyterLab's default (light) when None.
    """
    port = free_port()
    side = Path(tempfile.mkdtemp(prefix="lw-jlab-"))  # logs and settings, outside the file browser
    settings = side / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    if app == "lab":  # (Notebook 7 reads this directory too, and fails on the notification override)
        (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    if theme:
        (settings / "themes.jupyterlab-settings").write_text(json.dumps({"theme": theme}))
    log_path = side / f"{app}.log"
    log = open(log_path, "w")
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(side / "settings"),
        "JUPYTER_CONFIG_DIR": str(side / "config"),
        # JupyterLab saves open tabs to ~/.jupyter/lab/workspaces by default: a test run
        # would change what the user's own next `make lab` shows.
        "JUPYTERLAB_WORKSPACES_DIR": str(side / "workspaces"),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    if app == "voila":
        # As a teacher runs it: from ``root`` (the repository, whose voila.json it reads),
        # ``notebook`` a path relative to it.
        cmd = [sys.executable, "-m", "voila", notebook, "--no-browser", "--Voila.ip=127.0.0.1",
               f"--port={port}", "--show_tracebacks=True"]
        ready = None
    else:
        cmd = [
            sys.executable, "-m", {"lab": "jupyterlab", "notebook": "notebook"}[app], "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--IdentityProvider.token=", "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True", "--ServerApp.allow_root=True",
            f"--ServerApp.root_dir={root}",
        ] + (["--LabApp.expose_app_in_browser=True"] if app == "lab" else [])  # window.jupyterapp for the tests
        ready = "/api/status"
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                if ready is None:  # Voila: a request would render (run) the notebook; the port answering is enough
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()
                else:
                    with urllib.request.urlopen(f"{url}{ready}", timeout=2) as r:
                        json.load(r)
                break
            except Exception:
                if proc.poll() is not None or time.time() > deadline:
                    log.flush()
                    raise RuntimeError(f"{app} did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class Console:
    """Collects the browser console's errors and the page's uncaught exceptions."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    #: Errors that are the closed network's doing, not the page's.
    BENIGN = ("net::ERR_", "Failed to load resource", "favicon")

    def widget_errors(self) -> list[str]:
        """Every console error except those the offline machine causes (failed fetches)."""
        return [e for e in self.errors if not any(b in e for b in self.BENIGN)]


@contextlib.contextmanager
def browser_page(width: int = 1280, height: int = 800, dark: bool = False):
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_FLAGS)
        try:
            ctx = browser.new_context(viewport={"width": width, "height": height},
                                      color_scheme="dark" if dark else "light")
            page = ctx.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def open_and_run_all(page, url: str, name: str, app: str = "lab") -> None:
    """Open notebook ``name`` in JupyterLab (or Notebook 7) and run all its cells."""
    page.goto(f"{url}/lab/tree/{name}?reset" if app == "lab" else f"{url}/notebooks/{name}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
    # the kernel is ready when the toolbar's status shows Idle
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-Toolbar-kernelStatus, .jp-Notebook-ExecutionIndicator')]"
        ".some(e => (e.getAttribute('data-status') || e.title || e.textContent || '').toLowerCase().includes('idle'))",
        timeout=90_000,
    )
    prompts = ".jp-NotebookPanel .jp-Cell .jp-InputPrompt"
    for _ in range(4):
        page.click(".jp-NotebookPanel .jp-Cell .jp-InputPrompt >> nth=0")  # command mode, no editing
        page.click('.lm-MenuBar-itemLabel:text-is("Run")')
        page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')
        try:  # a prompt turns into [*] or [1] once the kernel takes the cells
            page.wait_for_function(
                "sel => [...document.querySelectorAll(sel)].some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))",
                arg=prompts, timeout=15_000,
            )
            return
        except Exception:
            page.keyboard.press("Escape")
    raise RuntimeError("Run > Run All Cells did not start the notebook's cells")


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
