"""GatewayLayer's build (layers/gateway/Makefile, what `sam build` runs): the pinned
dependencies for Lambda's platform, the versions the tests run with, the groq_gateway package
without its developer tools, and bytecode for python3.13 beside every module, so that a cold
start in Lambda (read-only /opt) does not compile what it imports."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "gateway"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    artifacts = tmp_path_factory.mktemp("GatewayLayer")
    # the project's Makefile puts python3.13 on PATH, as for sam build
    subprocess.run(
        ["make", "--no-print-directory", "layer", f"ARTIFACTS_DIR={artifacts}"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    return artifacts / "python"


def pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a requirements or constraints file, by normalised name."""
    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = (line.split("==") for line in lines if line and not line.startswith("#"))
    return {normalised(name): version for name, version in pairs}


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_layer_pins_the_versions_the_tests_run_with() -> None:
    layer, dev = pins(LAYER / "requirements.txt"), pins(ROOT / "constraints.txt")
    assert {name: dev.get(name) for name in layer} == layer


def test_the_layer_holds_exactly_the_pinned_distributions_for_lambda(site: Path) -> None:
    built = dict(
        path.name.removesuffix(".dist-info").rsplit("-", 1) for path in site.glob("*.dist-info")
    )
    assert {normalised(name): version for name, version in built.items()} == pins(
        LAYER / "requirements.txt"
    )
    (extension,) = (site / "pydantic_core").glob("_pydantic_core*.so")
    assert re.search(r"cpython-313-aarch64-linux-gnu", extension.name)  # Lambda's arm64 runtime
    assert not (site / "boto3").exists()  # the runtime's own
    assert not (site / "bin").exists()


def test_the_layer_holds_the_package_without_its_developer_tools(site: Path) -> None:
    package = site / "groq_gateway"
    assert (package / "proxy" / "app.py").is_file()
    assert (package / "admin" / "app.py").is_file()
    assert {"simulator", "devserver", "cli"}.isdisjoint(p.name for p in package.iterdir())


def test_every_module_has_python313_bytecode_and_none_other(site: Path) -> None:
    modules = list(site.rglob("*.py"))
    assert len(modules) > 500
    missing = [
        p for p in modules if not (p.parent / "__pycache__" / f"{p.stem}.cpython-313.pyc").is_file()
    ]
    assert missing == []
    other = [p for p in site.rglob("*.pyc") if ".cpython-313." not in p.name]
    assert other == []  # e.g. the dev environment's 3.11 bytecode of groq_gateway


def test_the_bytecode_is_used_whatever_the_files_times(site: Path) -> None:
    # unchecked-hash bytecode: flags 0b01 (hash-based) without 0b10 (check_source)
    pyc = site / "groq_gateway" / "proxy" / "__pycache__" / "app.cpython-313.pyc"
    flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
    assert flags == 0b01
