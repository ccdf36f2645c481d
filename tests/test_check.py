"""``medlink check``: exit codes, the JUnit XML report and the GitHub Actions output."""

from __future__ import annotations

import io
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import netsim.engine
from netsim.check import check_main, escape_data, escape_property

# Line numbers matter: the GitHub test counts them (the failing limit, `latency:`, is line 13).
SMALL = """\
name: NAME
seed: 3
duration: 5s
network:
  links:
    up: {capacity: 10Mbps, delay: 5ms, jitter: 1ms, loss: 1%}
streams:
  - {name: probe, type: poisson, packet_size: 1000B, rate: 400pps, path: [up]}
budgets:
  - {stream: probe, max_loss: 50%}
  - stream: probe
    source: "SOURCE"
    latency: LIMIT
    percentile: 99
"""
FAILING_LINE = 13

NO_BUDGETS = """\
name: bare
duration: 5s
network:
  links:
    up: {capacity: 10Mbps, delay: 5ms}
streams:
  - {name: probe, type: cbr, packet_size: 1000B, rate: 100pps, path: [up]}
"""

BAD = SMALL.replace("duration: 5s", "duration: -5s")  # line 3

JUNIT_ELEMENTS = {
    # element: (allowed attributes, allowed children), after Jenkins junit-10.xsd
    "testsuites": ({"name", "time", "tests", "failures", "disabled", "errors"}, {"testsuite"}),
    "testsuite": (
        {
            "name", "tests", "failures", "errors", "time", "disabled", "skipped",
            "timestamp", "hostname", "id", "package", "file", "log", "url", "version",
        },
        {"properties", "testcase", "system-out", "system-err"},
    ),
    "properties": (set(), {"property"}),
    "property": ({"name", "value"}, set()),
    "testcase": (
        {"name", "assertions", "time", "classname", "status"},
        {"skipped", "error", "failure", "system-out", "system-err"},
    ),
    "failure": ({"message", "type"}, set()),
    "skipped": ({"message"}, set()),
}  # fmt: skip
REQUIRED = {"testsuite": {"name", "tests"}, "testcase": {"name"}, "property": {"name", "value"}}


def scenario(tmp_path: Path, name: str, limit: str = "50ms", source: str = "ITU-T G.114") -> Path:
    """Write SMALL with a scenario name, a latency limit and a source; return its path."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(SMALL.replace("NAME", name).replace("LIMIT", limit).replace("SOURCE", source))
    return path


def check(*paths: Path, env: dict | None = None, **options) -> tuple[int, str, str]:
    """Run check_main with captured output; return (code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = check_main([str(p) for p in paths], env=env or {}, out=out, err=err, **options)
    return code, out.getvalue(), err.getvalue()


def test_passing_scenarios_exit_0(tmp_path):
    """Every budget holds: exit 0, a PASS block per scenario and PASS lines per budget."""
    a, b = scenario(tmp_path, "a"), scenario(tmp_path, "b")
    code, out, err = check(a, b)
    assert code == 0 and err == ""
    assert f"{a}: PASS" in out and f"{b}: PASS" in out
    assert re.search(r"PASS  probe latency_p99 [\d.]+ ms vs limit <= 50 ms", out)
    assert "::error" not in out


def test_one_failing_scenario_exits_1(tmp_path):
    """A budget that fails in one scenario fails the check."""
    code, out, _ = check(scenario(tmp_path, "ok"), scenario(tmp_path, "tight", limit="5.1ms"))
    assert code == 1
    assert "FAIL  probe latency_p99" in out and "vs limit <= 5.1 ms" in out
    assert "medlink check: FAIL (1 of 4 budgets failed, in 1 of 2 scenarios)" in out


def test_bad_scenario_runs_nothing(tmp_path, monkeypatch):
    """An invalid file among valid ones: exit 2, one stderr line with file:line, no run."""

    def no_run(*args, **kwargs):
        raise AssertionError("a scenario ran")

    monkeypatch.setattr(netsim.engine, "run", no_run)
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    junit = tmp_path / "reports" / "junit.xml"
    code, out, err = check(scenario(tmp_path, "ok"), bad, junit=junit)
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"medlink: error: {bad}:3: duration: ")
    assert not junit.exists() and not junit.parent.exists()


def test_missing_file_is_input_error(tmp_path):
    """A scenario file that does not exist: exit 2, one line naming it."""
    code, _, err = check(tmp_path / "nope.yaml")
    assert code == 2 and err == f"medlink: error: {tmp_path / 'nope.yaml'}: no such file\n"


def test_bad_duration_is_input_error(tmp_path):
    """A --duration that is not a time: exit 2, one line."""
    code, _, err = check(scenario(tmp_path, "a"), duration="soon")
    assert code == 2 and err.startswith("medlink: error: --duration: ") and err.count("\n") == 1


def test_unwritable_junit_folder(tmp_path):
    """--junit under a file (not a folder): exit 2, one line, nothing run."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out, err = check(scenario(tmp_path, "a"), junit=blocker / "junit.xml")
    assert code == 2 and out == ""
    assert err.startswith("medlink: error: --junit: ") and err.count("\n") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_junit_folder(tmp_path):
    """--junit into a read-only folder: exit 2, one line."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        code, _, err = check(scenario(tmp_path, "a"), junit=folder / "junit.xml")
    finally:
        folder.chmod(0o700)
    assert code == 2 and "not a writable folder" in err and err.count("\n") == 1


def test_junit_report(tmp_path):
    """Suites per scenario with counts, failure message with value and limit, properties."""
    ok, tight = scenario(tmp_path, "ok"), scenario(tmp_path, "tight", limit="5.1ms")
    junit = tmp_path / "reports" / "junit.xml"
    code, out, _ = check(ok, tight, junit=junit, seed=11, duration="6s")
    assert code == 1 and f"junit: {junit}" in out
    assert junit.read_text().startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "1", "0")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"ok", "tight"}
    assert (suites["ok"].get("tests"), suites["ok"].get("failures")) == ("2", "0")
    assert (suites["tight"].get("tests"), suites["tight"].get("failures")) == ("2", "1")
    cases = suites["tight"].findall("testcase")
    assert {c.get("classname") for c in cases} == {str(tight)}
    assert [c.get("name") for c in cases] == [
        "probe: loss_rate <= 50%",
        "probe: latency_p99 <= 5.1 ms",
    ]
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("type") == "budget"
    assert re.fullmatch(
        r"probe latency_p99 [\d.]+ ms against limit 5\.1 ms", failure.get("message")
    )
    assert "ITU-T G.114" in failure.text and f"{tight}:{FAILING_LINE}" in failure.text
    assert cases[0].find("failure") is None
    props = {p.get("name"): p.get("value") for p in suites["tight"].iter("property")}
    assert props["seed"] == "11" and props["duration_s"] == "6"
    assert re.fullmatch(r"[0-9a-f]{64}", props["scenario_sha256"])
    assert props["medlink_version"] and props["scenario_file"] == str(tight)


def test_junit_no_budgets_is_skipped(tmp_path):
    """A scenario without budgets passes, as one skipped test case 'no budgets'."""
    bare = tmp_path / "bare.yaml"
    bare.write_text(NO_BUDGETS)
    junit = tmp_path / "junit.xml"
    code, out, _ = check(bare, junit=junit)
    assert code == 0 and "no budgets to judge" in out
    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("1", "0", "1")
    (case,) = suite.findall("testcase")
    assert case.get("name") == "no budgets" and case.find("skipped") is not None


def test_junit_matches_schema(tmp_path):
    """Every element and attribute is one the JUnit schema knows; numbers are well formed."""
    bare = tmp_path / "bare.yaml"
    bare.write_text(NO_BUDGETS)
    junit = tmp_path / "junit.xml"
    tight = scenario(tmp_path, "a", limit="5.1ms", source="<&> 'q' ]]>")
    code, _, _ = check(tight, bare, junit=junit)
    assert code == 1
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    for element in root.iter():
        attributes, children = JUNIT_ELEMENTS[element.tag]
        assert set(element.attrib) <= attributes, element.tag
        assert REQUIRED.get(element.tag, set()) <= set(element.attrib), element.tag
        assert {child.tag for child in element} <= children, element.tag
        for key in ("tests", "failures", "errors", "skipped"):
            if key in element.attrib:
                assert element.get(key).isdigit()
        if "time" in element.attrib:
            assert re.fullmatch(r"\d+\.\d{3}", element.get("time"))
    for suite in root.findall("testsuite"):
        tags = [child.tag for child in suite]
        assert tags[0] == "properties" and set(tags[1:]) == {"testcase"}
        assert int(suite.get("tests")) == len(tags) - 1


def test_github_annotation_and_summary(tmp_path):
    """Under GitHub Actions: an ::error at the failing limit's line; a summary is appended."""
    tight = scenario(tmp_path, "tight", limit="5.1ms", source="50% of\\nthe budget")
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    code, out, _ = check(scenario(tmp_path, "ok"), tight, env=env)
    assert code == 1
    errors = [line for line in out.splitlines() if line.startswith("::")]
    assert len(errors) == 1
    file = escape_property(str(tight))
    prefix = f"::error file={file},line={FAILING_LINE},title=probe latency_p99::"
    assert errors[0].startswith(prefix)
    message = errors[0][len(prefix) :]
    assert re.match(r"probe latency_p99 [\d.]+ ms against limit 5\.1 ms", message)
    assert message.endswith("source: 50%25 of%0Athe budget")
    text = summary.read_text()
    assert text.startswith("# earlier step\n")
    assert "| budget | value | limit | verdict | source |" in text
    assert "### medlink check: ok (PASS)" in text and "### medlink check: tight (FAIL)" in text
    assert re.search(r"\| probe latency_p99 \| [\d.]+ ms \| &lt;= 5\.1 ms \| ❌ FAIL \|", text)


def test_no_github_output_outside_actions(tmp_path):
    """Without GITHUB_ACTIONS=true there are no workflow commands and no summary."""
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "false", "GITHUB_STEP_SUMMARY": str(summary)}
    code, out, _ = check(scenario(tmp_path, "tight", limit="5.1ms"), env=env)
    assert code == 1 and "::error" not in out and not summary.exists()


def test_escape_functions():
    """GitHub's escaping: % CR LF in messages; also : and , in properties."""
    assert escape_data("50% a\r\nb: c, d") == "50%25 a%0D%0Ab: c, d"
    assert escape_property("C:\\x,y%\n") == "C%3A\\x%2Cy%25%0A"
    assert escape_data("%0A") == "%250A"  # % first, so nothing is escaped twice
