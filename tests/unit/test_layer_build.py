"""GatewayLayer's build (layers/gateway/Makefile, what `sam build` runs): the pinned
dependencies for Lambda's platform, the versions the tests run with, the groq_gateway package
without its developer tools, and bytecode for python3.13 beside every module, so that a cold
start in Lambda (read-only /opt) does not compile what it imports. And every function starts
from that layer alone: the rest of the suite runs in the dev environment, which has more."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from bench import startup

from groq_gateway_dev.devserver.local_aws import LOCAL_AWS_ENV, environment_of
from groq_gateway_dev.devserver.template import FunctionSpec, TemplateModel

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


@pytest.fixture(scope="module")
def lambda_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """python3.13 and the module path Lambda's runtime would give a function, on this machine:
    the layer built for this platform, and boto3 (the runtime's own) beside it."""
    artifacts = tmp_path_factory.mktemp("lambda-site")
    python = startup.lambda_site(artifacts)
    return python, f"{artifacts / 'python'}:{artifacts / 'runtime'}"


TEMPLATE = TemplateModel.load(ROOT / "template.yaml")
FUNCTIONS = TEMPLATE.functions()


@pytest.mark.parametrize("function", FUNCTIONS, ids=[f.logical_id for f in FUNCTIONS])
def test_every_function_starts_from_the_layer_alone(
    function: FunctionSpec, lambda_site: tuple[str, str]
) -> None:
    # Lambda's init: the entry module imported from the function's code, in python3.13 with
    # the layer and the runtime's boto3 only (-S: no site-packages of this machine), in the
    # environment the template gives the function. Anything it touches in AWS fails at once.
    python, path = lambda_site
    module, entry = ("app", "app") if function.is_web_app else function.handler.split(".")
    env = {
        **environment_of(TEMPLATE, function, {}),
        **LOCAL_AWS_ENV,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: no AWS call at init
        "PYTHONPATH": path,
    }
    started = subprocess.run(
        [python, "-S", "-c", f"import {module}; assert callable({module}.{entry})"],
        cwd=function.code_uri,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode == 0, started.stderr[-3000:]


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


def test_the_layer_holds_the_runtime_package_whole_and_no_developer_tools(site: Path) -> None:
    def files(package: Path) -> set[str]:
        return {
            str(path.relative_to(package))
            for path in package.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }

    shipped = files(site / "groq_gateway")
    assert "proxy/app.py" in shipped
    assert "admin/console/index.html" in shipped  # the console's files (docs/console.md)
    assert shipped == files(LAYER / "groq_gateway")  # copied as it is: nothing added or deleted
    assert not (site / "groq_gateway_dev").exists()


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
