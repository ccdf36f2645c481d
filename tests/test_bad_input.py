"""Malformed scenarios: one ScenarioError, one line, naming the file, the line and the field."""

from __future__ import annotations

import random

import pytest

from netsim.errors import ScenarioError
from netsim.scenario import load_scenario, load_scenario_text

from .bad_scenarios import BAD_SCENARIOS, BASE, TRANSPORT_MESSAGES

IDS = [case[0] for case in BAD_SCENARIOS]

# What some of the messages must say (expected and got), by case id.
MESSAGES = {
    "yaml-syntax": "invalid YAML: mapping values are not allowed here",
    "duplicate-yaml-key": "duplicate key 'name' (first written on line 9)",
    "top-level-list": "expected a mapping with name, duration, network and streams, got a list",
    "empty-file": "got an empty document",
    "unknown-top-level-key": "unknown key 'colour'; a scenario takes: name, description,",
    "top-level-key-typo": "unknown key 'budget'; did you mean 'budgets'?",
    "unknown-link-key": "unknown key 'capacty'; did you mean 'capacity'?",
    "missing-required-in-stream": "required field is missing",
    "empty-stream-list": "expected at least 1 entry, got an empty list",
    "wrong-unit": "unknown unit 'Mbit' in '10 Mbit'",
    "unitless-time": "needs a unit, such as '20ms'",
    "negative-duration": "expected a time > 0, got '-5s'",
    "zero-duration": "expected a time > 0, got '0s'",
    "negative-delay": "expected a time >= 0, got '-1ms'",
    "time-is-a-list": "expected a time such as '20ms', got a list",
    "loss-over-100": "between 0% and 100%, got '150%'",
    "bad-buffer": "expected a buffer such as '64KB', '100 packets' or 'unlimited', got 64",
    "rate-zero": "expected a rate > 0 such as '25Mbps' or '800pps', got '0pps'",
    "ge-p-out-of-range": "got 1.5",
    "jitter-wrong-parameter": "unknown key 'mean'; uniform jitter takes: distribution, max",
    "jitter-unknown-distribution": "expected one of exponential, uniform, lognormal, pareto",
    "bad-stream-type": "expected 'poisson' or 'cbr', got 'tcp'",
    "path-missing-link": "no link named 'bottlenek'; links are: a",
    "duplicate-stream-name": "duplicate stream name 's'",
    "link-cycle": "links ordered in a cycle, b -> a -> b",
    "budget-missing-stream": "no stream named 'nosuch'; streams are: s",
    "percentile-over-100": "expected a number > 0 and <= 100, got 101",
    "percentile-without-latency": "percentile applies to a latency limit",
    "budget-no-metric": "at least one of latency, max_loss, max_jitter, min_throughput",
    "seed-bool": "expected a whole number >= 0, got a boolean (true)",
}

REQUIRED_KINDS = [
    "yaml-syntax", "unknown-top-level-key", "unknown-link-key", "wrong-unit", "unitless-time",
    "negative-duration", "zero-duration", "loss-over-100", "ge-p-out-of-range",
    "path-missing-link", "empty-stream-list", "missing-streams", "duplicate-stream-name",
    "duplicate-yaml-key", "budget-missing-stream", "percentile-over-100",
    "percentile-without-latency", "budget-no-metric", "negative-delay", "bad-buffer",
    "bad-stream-type", "rate-zero", "link-cycle", "top-level-list", "empty-file",
    "jitter-wrong-parameter",
]  # fmt: skip


MESSAGES.update(TRANSPORT_MESSAGES)


def test_the_table_covers_every_required_kind():
    assert len(BAD_SCENARIOS) >= 24 and len(set(IDS)) == len(IDS)
    assert not set(REQUIRED_KINDS) - set(IDS)
    assert not set(MESSAGES) - set(IDS)


@pytest.mark.parametrize(("case_id", "text", "line", "field"), BAD_SCENARIOS, ids=IDS)
def test_bad_scenario_names_line_and_field(tmp_path, case_id, text, line, field):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    error = info.value
    assert (error.line, error.field) == (line, field)
    assert error.file == str(path)
    shown = str(error)
    assert "\n" not in shown and "Traceback" not in shown
    prefix = f"{path}:{line}: " if line is not None else f"{path}: "
    assert shown.startswith(prefix + (f"{field}: " if field else ""))
    if case_id in MESSAGES:
        assert MESSAGES[case_id] in error.message


@pytest.mark.parametrize(("case_id", "text", "line", "field"), BAD_SCENARIOS, ids=IDS)
def test_text_loader_reports_the_same(case_id, text, line, field):
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, filename="inline.yaml")
    assert (info.value.line, info.value.field) == (line, field)
    assert str(info.value).startswith(f"inline.yaml:{line}: ")


def test_base_is_valid():
    assert load_scenario_text(BASE).plan.streams[0].path == ("a",)


WEIRD_VALUES = [
    "", "~", "[]", "{}", "-1", "0", "1e400", ".nan", ".inf", "true", "[1, 2]", "{a: 1}",
    "!!binary aGk=", "2024-01-01", "'10 Mbit'", "1%", "100 packets", "uniform", "&x [*x]",
    "{distribution: pareto, scale: 1ms, alpha: 0.5}", "{model: gilbert-elliott, p: 0, r: 0}",
    "{model: gilbert-elliott, rate: 99%, burst: 2}", "'\\t'", "*nowhere", "[a", "}",
]  # fmt: skip


def test_mutated_scenarios_fail_cleanly():
    """Random edits of a valid file load or raise one-line ScenarioErrors, nothing else."""
    rng = random.Random(20240601)
    budget = "budgets:\n  - {stream: s, latency: 5ms, percentile: 99, max_loss: 1%}\n"
    base = (BASE + budget).splitlines()
    for _ in range(400):
        lines = list(base)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(lines))
            op = rng.random()
            if op < 0.4 and ":" in lines[i]:
                lines[i] = lines[i].split(":")[0] + ": " + rng.choice(WEIRD_VALUES)
            elif op < 0.6:
                del lines[i]
            elif op < 0.8:
                lines.insert(i, rng.choice(base))
            else:
                lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
        text = "\n".join(lines) + "\n"
        try:
            load_scenario_text(text, "m.yaml")
        except ScenarioError as error:
            assert "\n" not in str(error) and str(error).startswith("m.yaml")
            assert error.line is None or 1 <= error.line <= len(lines) + 1, (text, error)
