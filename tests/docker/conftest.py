"""Docker backend tests: real engine, real containers, the same kernel NAT. Marked `docker`.

They need the engine and the project's image (`make docker-images`): without them every
test here fails saying what to run (never a silent skip). The lab tests' fixtures apply
(fresh lab name, nothing of it left afterwards, CPU sharing).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nattest.errors import UsageError
from tests.lab.conftest import cpu_share, lab_name  # noqa: F401  (fixtures)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.docker)


@pytest.fixture(autouse=True)
def engine_and_image() -> None:
    """Fail at once, saying what to run, when the engine or the image is missing."""
    from nattest.backends.docker import engine
    from nattest.backends.docker.lab import image

    try:
        engine.client()
        engine.require_image(image())
    except UsageError as e:
        pytest.fail(f"docker backend unusable here: {e}", pytrace=False)
