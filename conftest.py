"""Collection on an install without the torch extra (``pip install rugtheory`` plus pytest).

The modules below need an optional package to import or to run their doctests. When that package
is not installed they are not collected, and the terminal summary (and the header, without -q)
says which and why. Test files that need an extra skip themselves with ``pytest.importorskip``.
"""

from __future__ import annotations

import importlib.util

EXTRA = "pip install 'rugtheory[torch]'"

# path (relative to this file) -> the optional module it needs, to import or in its doctests
NEEDS = {
    "rugtheory/harness": "torch",
    "rugtheory/numeric/exact_torch.py": "torch",
    "rugtheory/checkpoint.py": "safetensors",
}


def _installed(module: str) -> bool:
    """Whether ``module`` can be found (not imported: importing torch costs seconds)."""
    return importlib.util.find_spec(module) is not None


EXTRAS = ("torch", "safetensors", "tqdm", "matplotlib")  # what rugtheory[torch] adds to the core
MISSING = [module for module in EXTRAS if not _installed(module)]
collect_ignore = [path for path, module in NEEDS.items() if module in MISSING]


def _lines() -> list[str]:
    return [f"not installed: {', '.join(MISSING)} (the torch extra: {EXTRA}); not collected: "
            + ", ".join(f"{path} (needs {NEEDS[path]})" for path in collect_ignore)] if MISSING else []


def pytest_report_header(config) -> list[str]:
    return _lines()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    for line in _lines():
        terminalreporter.write_line(line)
