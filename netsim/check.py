"""``medlink check``: run scenarios as a CI gate, with JUnit XML and GitHub Actions output.

::

    medlink check scenarios/*.yaml --junit reports/junit.xml

Every scenario is loaded and validated before any is run, so a typo in the last file costs
no simulation time: the first invalid one is reported in one line and the command exits 2
having written nothing. Then each scenario runs and gets a short block on stdout, one line
per budget. Exit codes: 0 every budget of every scenario holds; 1 a budget failed; 2 invalid
input.

Outputs for CI:

* ``--junit FILE``: a JUnit XML report (one ``<testsuite>`` per scenario, one
  ``<testcase>`` per budget), written atomically;
* under GitHub Actions (``GITHUB_ACTIONS=true``): an ``::error`` workflow command per failed
  budget, pointing at the budget's line in the scenario file, and a Markdown table per
  scenario appended to ``$GITHUB_STEP_SUMMARY`` when it is set.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import html
import math
import os
import re
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .budgets import BudgetResult
from .errors import ScenarioError, read_user_text
from .results import Results
from .scenario import Scenario, load_scenario_text
from .units import UnitError, parse_time
from .version import __version__
from .yamlsource import LineMap, load_yaml

__all__ = [
    "check_main",
    "CheckedScenario",
    "budget_lines",
    "budget_title",
    "budget_message",
    "check_name",
    "junit_tree",
    "github_annotations",
    "step_summary",
    "escape_data",
    "escape_property",
    "render_block",
]

EXIT_PASS, EXIT_FAIL, EXIT_INPUT = 0, 1, 2

# The keys of a budget entry, in the order the loader expands them into budgets.
_LIMIT_KEYS = ("latency", "max_loss", "max_jitter", "min_throughput")

# Characters XML 1.0 cannot hold at all, not even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class _InputError(Exception):
    """A bad command-line value, reported in one line like a scenario error."""


@dataclass(frozen=True)
class CheckedScenario:
    """One scenario of a check: what was loaded and, once run, what it gave.

    Attributes
    ----------
    file
        The scenario file as given on the command line (JUnit ``classname``, ``file=``).
    scenario
        The validated scenario (with any ``--duration`` override applied to its plan).
    lines
        For each budget of ``scenario.plan.budgets``, the line of its limit in the file
        (the ``latency:``, ``max_loss:``, ... key of its entry), or None if unknown.
    results
        The run's results; None before it has run.
    seconds
        Wall-clock time of the run, in seconds.
    """

    file: str
    scenario: Scenario
    lines: tuple[int | None, ...]
    results: Results | None = None
    seconds: float = 0.0

    @property
    def name(self) -> str:
        """The scenario's ``name``."""
        return self.scenario.plan.name

    @property
    def budgets(self) -> list[BudgetResult]:
        """The budget verdicts (empty before the run)."""
        return [] if self.results is None else list(self.results.budgets)

    @property
    def failed(self) -> list[BudgetResult]:
        """The budgets that failed."""
        return [b for b in self.budgets if not b.passed]


# --- formatting ----------------------------------------------------------------------------


def _number(value: float, decimals: int = 3) -> str:
    """``150.0`` -> ``'150'``, ``450.4123`` -> ``'450.412'``: fixed decimals, no trailing 0."""
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _quantity(value: float, unit: str) -> str:
    """A budget figure with its unit: ``'450.412 ms'``, ``'1.5%'``, ``'2 Mbps'``."""
    if math.isnan(value):
        return "no value"
    if unit == "ratio":
        return f"{_number(value * 100, 4)}%"
    return f"{_number(value)} {unit}"


def _bound(budget: BudgetResult) -> str:
    return ">=" if budget.metric == "throughput" else "<="


def budget_title(budget: BudgetResult) -> str:
    """``'video latency_p99'``: the stream and the metric."""
    return f"{budget.stream} {budget.metric}"


def check_name(budget: BudgetResult) -> str:
    """The check a budget states, ``'video: latency_p99 <= 150 ms'`` (plus ``[name]``)."""
    limit = _quantity(budget.limit, budget.unit)
    text = f"{budget.stream}: {budget.metric} {_bound(budget)} {limit}"
    return f"{text} [{budget.name}]" if budget.name else text


def budget_message(budget: BudgetResult) -> str:
    """``'video latency_p99 450.412 ms against limit 150 ms'`` (``>= 2 Mbps`` for throughput)."""
    limit = _quantity(budget.limit, budget.unit)
    if budget.metric == "throughput":
        limit = f">= {limit}"
    value = _quantity(budget.value, budget.unit)
    if math.isnan(budget.value):
        value = "no value (no packet delivered)"
    return f"{budget_title(budget)} {value} against limit {limit}"


# --- loading -------------------------------------------------------------------------------


def budget_lines(document: Any, lines: LineMap, budgets: Sequence[Any]) -> tuple[int | None, ...]:
    """The line of each budget's limit in the scenario file.

    The loader expands each entry of ``budgets:`` into one budget per limit it states, in
    the order latency, max_loss, max_jitter, min_throughput; this follows the same order.

    Parameters
    ----------
    document
        The parsed YAML document.
    lines
        Its :class:`~netsim.yamlsource.LineMap`.
    budgets
        The plan's budgets (anything with a ``stream``), in order.

    Returns
    -------
    tuple of int or None
        One line per budget: its limit key's line, else its entry's line, else None (when
        the document does not match the budgets, which a validated scenario always does).
    """
    entries = document.get("budgets") if isinstance(document, dict) else None
    found: list[tuple[str, int | None]] = []
    for j, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict):
            continue
        for key in _LIMIT_KEYS:
            if entry.get(key) is not None:
                line = lines.line(("budgets", j, key), at_key=True)
                found.append((entry.get("stream"), line or lines.line(("budgets", j))))
    if len(found) != len(budgets) or any(
        stream != budget.stream for (stream, _), budget in zip(found, budgets, strict=True)
    ):
        return tuple(None for _ in budgets)
    return tuple(line for _, line in found)


def _load(file: str, duration_s: float | None) -> CheckedScenario:
    """Read and validate one scenario file; raise :class:`ScenarioError` if it is invalid."""
    name, text = read_user_text(file, "a scenario file")
    scenario = dataclasses.replace(load_scenario_text(text, filename=name), path=Path(file))
    document, lines = load_yaml(text, name)  # the loader keeps no LineMap; parse again
    plan = scenario.plan
    if duration_s is not None:
        scenario = dataclasses.replace(
            scenario, plan=dataclasses.replace(plan, duration_s=duration_s)
        )
    return CheckedScenario(file, scenario, budget_lines(document, lines, plan.budgets))


def _parse_duration(duration: str | None) -> float | None:
    if duration is None:
        return None
    try:
        duration_s = parse_time(duration)
    except UnitError as exc:
        raise _InputError(f"--duration: {exc}") from None
    if not duration_s > 0 or not math.isfinite(duration_s):
        raise _InputError(f"--duration: must be > 0, got {duration!r}")
    return duration_s


def _check_junit_path(junit: Path) -> None:
    """Fail before simulating if the JUnit report could not be written to ``junit``.

    Nothing is created here; missing folders are made when the report is written.
    """
    if junit.is_dir():
        raise _InputError(f"--junit: {junit} is a folder, not a file")
    parent = junit.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise _InputError(f"--junit: cannot write {junit}: {parent} is not a writable folder")


# --- reports -------------------------------------------------------------------------------


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def junit_tree(
    checked: Sequence[CheckedScenario], timestamp: _dt.datetime | None = None
) -> ET.ElementTree:
    """The JUnit XML report of a check.

    One ``<testsuite>`` per scenario (named after the scenario) with its seed, scenario
    SHA-256 and medlink version as ``<properties>``, and one ``<testcase>`` per budget
    (``classname`` the scenario file as given). A failed budget has a ``<failure
    type="budget">`` whose message gives value and limit and whose text adds the source. A
    scenario without budgets has one skipped test case, ``no budgets``. The layout follows
    the common JUnit schema (Jenkins ``junit-10.xsd``): the simulation time is the suite's
    ``time``; judging a budget takes no time of its own.
    """
    stamp = (timestamp or _dt.datetime.now(_dt.UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element("testsuites", name="medlink check")
    totals = {"tests": 0, "failures": 0}
    for item in checked:
        budgets = item.budgets
        failures = len(item.failed)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=_xml_text(item.name),
            tests=str(max(len(budgets), 1)),
            failures=str(failures),
            errors="0",
            skipped="0" if budgets else "1",
            time=_seconds(item.seconds),
            timestamp=stamp,
        )
        properties = ET.SubElement(suite, "properties")
        seed = item.results.seed if item.results is not None else item.scenario.plan.seed
        for key, value in (
            ("scenario_file", item.file),
            ("seed", str(seed)),
            ("scenario_sha256", item.scenario.sha256),
            ("duration_s", f"{item.scenario.plan.duration_s:g}"),
            ("medlink_version", __version__),
        ):
            ET.SubElement(properties, "property", name=key, value=_xml_text(value))
        for budget, line in zip(budgets, item.lines, strict=False):
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_xml_text(item.file),
                name=_xml_text(check_name(budget)),
                time=_seconds(0.0),
            )
            if not budget.passed:
                failure = ET.SubElement(
                    case, "failure", message=_xml_text(budget_message(budget)), type="budget"
                )
                where = item.file if line is None else f"{item.file}:{line}"
                details = [budget_message(budget), f"scenario: {where}"]
                if budget.source:
                    details.append(f"source: {budget.source}")
                failure.text = _xml_text("\n".join(details))
        if not budgets:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_xml_text(item.file),
                name="no budgets",
                time=_seconds(0.0),
            )
            ET.SubElement(case, "skipped", message="the scenario states no budgets")
        totals["tests"] += max(len(budgets), 1)
        totals["failures"] += failures
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", "0")
    root.set("time", _seconds(sum(item.seconds for item in checked)))
    ET.indent(root)
    return ET.ElementTree(root)


def _write_junit(path: Path, tree: ET.ElementTree) -> None:
    from .files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, binary=True) as f:
        f.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        tree.write(f, encoding="utf-8", xml_declaration=False)
        f.write(b"\n")


def escape_data(text: str) -> str:
    """Escape a workflow command's message: ``%``, CR and LF (GitHub Actions rules)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value: as :func:`escape_data`, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _github_file(file: str, env: Mapping[str, str]) -> str:
    """The scenario path as GitHub annotations want it: relative to the workspace, with /."""
    path = Path(file)
    workspace = env.get("GITHUB_WORKSPACE")
    if path.is_absolute() and workspace:
        try:
            path = path.relative_to(workspace)
        except ValueError:
            pass
    return path.as_posix()


def github_annotations(
    checked: Sequence[CheckedScenario], env: Mapping[str, str] = os.environ
) -> list[str]:
    """``::error file=...,line=...,title=...::message`` for each failed budget.

    The line is that of the budget's limit in the scenario file; the message gives value and
    limit, then the scenario's name and the budget's source.
    """
    out = []
    for item in checked:
        # A workload's own budgets (a control loop's) come after the file's and have no line:
        # they are annotated on the file.
        lines = list(item.lines) + [None] * (len(item.budgets) - len(item.lines))
        for budget, line in zip(item.budgets, lines, strict=False):
            if budget.passed:
                continue
            properties = [f"file={escape_property(_github_file(item.file, env))}"]
            if line is not None:
                properties.append(f"line={line}")
            properties.append(f"title={escape_property(budget_title(budget))}")
            message = f"{budget_message(budget)} (scenario {item.name})"
            if budget.source:
                message += f"; source: {budget.source}"
            out.append(f"::error {','.join(properties)}::{escape_data(message)}")
    return out


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell: one line, HTML escaped, ``|`` escaped."""
    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|")


def step_summary(checked: Sequence[CheckedScenario]) -> str:
    """The Markdown for ``$GITHUB_STEP_SUMMARY``: a heading and a budget table per scenario."""
    out = []
    for item in checked:
        budgets = item.budgets
        verdict = "no budgets" if not budgets else "FAIL" if item.failed else "PASS"
        seed = item.results.seed if item.results is not None else item.scenario.plan.seed
        out += [
            f"### medlink check: {_cell(item.name)} ({verdict})",
            "",
            f"`{_cell(item.file)}`, seed {seed}, {item.scenario.plan.duration_s:g} s, "
            f"{item.seconds:.2f} s to run",
            "",
        ]
        if not budgets:
            out += ["No budgets to judge.", ""]
            continue
        out += ["| budget | value | limit | verdict | source |", "|---|---:|---:|:---:|---|"]
        for budget in budgets:
            limit = f"{_bound(budget)} {_quantity(budget.limit, budget.unit)}"
            title = budget_title(budget) + (f" ({budget.name})" if budget.name else "")
            out.append(
                "| "
                + " | ".join(
                    [
                        _cell(title),
                        _cell(_quantity(budget.value, budget.unit)),
                        _cell(limit),
                        "✅ PASS" if budget.passed else "❌ FAIL",
                        _cell(budget.source) or "-",
                    ]
                )
                + " |"
            )
        out.append("")
    return "\n" + "\n".join(out) + "\n"  # a blank line first: earlier content may not end in one


def render_block(item: CheckedScenario) -> str:
    """The terminal block of one scenario: file, verdict, then one line per budget."""
    budgets, failed = item.budgets, item.failed
    if not budgets:
        verdict = "no budgets to judge"
    elif failed:
        verdict = f"FAIL ({len(failed)} of {len(budgets)} budgets failed)"
    else:
        verdict = f"PASS (all {len(budgets)} budgets hold)"
    seed = item.results.seed if item.results is not None else item.scenario.plan.seed
    out = [
        f"{item.file}: {verdict}",
        f"  {item.name}, seed {seed}, duration {item.scenario.plan.duration_s:g}s, "
        f"ran in {item.seconds:.2f}s",
    ]
    for budget in budgets:
        limit = f"{_bound(budget)} {_quantity(budget.limit, budget.unit)}"
        value = _quantity(budget.value, budget.unit)
        verdict_word = "PASS" if budget.passed else "FAIL"
        out.append(f"  {verdict_word}  {budget_title(budget)} {value} vs limit {limit}")
    return "\n".join(out)


# --- the command ---------------------------------------------------------------------------


def check_main(
    paths: Sequence[str | os.PathLike[str]],
    junit: str | os.PathLike[str] | None = None,
    seed: int | None = None,
    duration: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run scenarios as a CI gate; return the exit code.

    Parameters
    ----------
    paths
        Scenario files. All are validated before any is run.
    junit
        Where to write a JUnit XML report, or None.
    seed
        Root seed for every scenario, instead of each scenario's own ``seed``.
    duration
        Duration override for every scenario, such as ``"30s"``.
    env
        The environment: ``GITHUB_ACTIONS`` and ``GITHUB_STEP_SUMMARY`` turn on the GitHub
        Actions output.
    out, err
        Where the report and the errors go.

    Returns
    -------
    int
        0 when every budget of every scenario holds, 1 when one fails, 2 for invalid input
        (one line on ``err``; nothing run, nothing written).
    """
    env = os.environ if env is None else env
    out = sys.stdout if out is None else out  # at call time: tests and callers redirect it
    err = sys.stderr if err is None else err
    from .engine import run as run_plan

    def fail_input(message: str) -> int:
        print(f"medlink: error: {' '.join(str(message).split())}", file=err)
        return EXIT_INPUT

    junit_path = None if junit is None else Path(junit)
    try:
        if not paths:
            raise _InputError("no scenario files given")
        if seed is not None and seed < 0:
            raise _InputError(f"--seed: must be >= 0, got {seed}")
        duration_s = _parse_duration(duration)
        if junit_path is not None:
            _check_junit_path(junit_path)
        loaded = [_load(os.fspath(path), duration_s) for path in paths]
    except (ScenarioError, _InputError) as exc:
        return fail_input(str(exc))

    checked = []
    for item in loaded:
        start = time.perf_counter()
        results = run_plan(item.scenario.plan, seed=seed, packets=False, taps=item.scenario.taps())
        item.scenario.judge(results)  # the workloads' own budgets (control loops) count too
        done = dataclasses.replace(item, results=results, seconds=time.perf_counter() - start)
        checked.append(done)
        print(render_block(done), file=out, flush=True)

    n_budgets = sum(len(item.budgets) for item in checked)
    n_failed = sum(len(item.failed) for item in checked)
    failed_scenarios = sum(bool(item.failed) for item in checked)
    if n_failed:
        verdict = (
            f"FAIL ({n_failed} of {n_budgets} budgets failed, "
            f"in {failed_scenarios} of {len(checked)} scenarios)"
        )
    else:
        verdict = f"PASS (all {n_budgets} budgets of {len(checked)} scenarios hold)"
    print(f"\nmedlink check: {verdict}", file=out)

    if env.get("GITHUB_ACTIONS") == "true":
        for line in github_annotations(checked, env):
            print(line, file=out)
        summary = env.get("GITHUB_STEP_SUMMARY")
        if summary:
            try:
                with open(summary, "a", encoding="utf-8") as f:
                    f.write(step_summary(checked))
            except OSError as exc:
                reason = " ".join(str(exc.strerror or exc).split())
                print(f"medlink: warning: cannot append to GITHUB_STEP_SUMMARY: {reason}", file=err)

    if junit_path is not None:
        try:
            _write_junit(junit_path, junit_tree(checked))
        except OSError as exc:
            return fail_input(f"--junit: cannot write {junit_path}: {exc.strerror or exc}")
        print(f"junit: {junit_path}", file=out)
    return EXIT_FAIL if n_failed else EXIT_PASS
