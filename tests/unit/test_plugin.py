"""The pytest plugin, tested with pytester: options, header, markers, loud failure."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_options_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(
        ["*nattest NAT lab*", "*--nattest-keep-lab*", "*--nattest-backend*"]
    )


def test_report_header_and_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import pytest\n@pytest.mark.netns\ndef test_x():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_subprocess("--strict-markers", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["nattest: backend=netns keep-lab=False*"])
    result.assert_outcomes(passed=1)


def test_unknown_backend_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--nattest-backend", "nosuch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_lab_fixture_fails_loudly_without_root(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "import os, pytest\n"
        "@pytest.fixture(autouse=True)\n"
        "def not_root(monkeypatch):\n"
        "    monkeypatch.setattr(os, 'geteuid', lambda: 1000)\n"
    )
    pytester.makepyfile("def test_scenario(nattest_lab):\n    nattest_lab('x.yaml')\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)  # a failing fixture: never a silent pass or skip
    result.stdout.fnmatch_lines(["*need root*"])
