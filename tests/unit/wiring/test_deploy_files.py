"""The deploy files name only what exists: the settings compose and the unit give the bot, the
pins of the lock, the image's layout and its entry point.

No Docker engine runs where these tests do, so the image is never built here: these checks,
with hadolint in `make lint`, are what can be tried of it.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.sandbox.__main__ import parse_args
from bot.wiring.settings import Settings
from bot.words.texts import LOCALES_DIR

REPO = Path(__file__).resolve().parents[3]
SETTINGS = frozenset(name.upper() for name in Settings.model_fields)
#: The variables the official postgres image reads (its documentation's "Environment Variables").
POSTGRES_VARIABLES = frozenset(
    {
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "POSTGRES_DB",
        "POSTGRES_INITDB_ARGS",
        "POSTGRES_INITDB_WALDIR",
        "POSTGRES_HOST_AUTH_METHOD",
        "PGDATA",
    }
)
#: What the image's ENV sets besides settings: the interpreter's own variables.
INTERPRETER_VARIABLES = frozenset(
    {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PIP_NO_CACHE_DIR"}
)
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


# ---------------------------------------------------------------------- reading the files


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword, upper-cased, and the rest of its line."""

    stage: int  # 0 for the first FROM's stage
    keyword: str
    arguments: str


def dockerfile() -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined and comments left out."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        pending = ""
        if keyword.upper() == "FROM":
            stage += 1
        instructions.append(Instruction(stage, keyword.upper(), arguments.strip()))
    return instructions


def env_names(arguments: str) -> set[str]:
    """The names an ENV instruction sets (`ENV A=1 B=2`)."""
    return {word.split("=", 1)[0] for word in shlex.split(arguments)}


def compose() -> dict[str, Any]:
    """compose.yaml as compose reads it (its anchors merged)."""
    document = yaml.safe_load((REPO / "compose.yaml").read_text())
    assert isinstance(document, dict)
    return document


def services() -> dict[str, dict[str, Any]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's `environment:`, written as a mapping or as a list of NAME=value."""
    written = service.get("environment", {})
    if isinstance(written, list):
        return dict(str(item).partition("=")[::2] for item in written)
    return {str(name): str(value) for name, value in written.items()}


def bots() -> dict[str, dict[str, Any]]:
    """The services that run the bot: built from this project, on its own entry point."""
    return {
        name: service
        for name, service in services().items()
        if "build" in service and "entrypoint" not in service
    }


def databases() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in services().items()
        if str(service.get("image", "")).startswith("postgres:")
    }


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: tuple[str, ...]


def lock(name: str) -> dict[str, Pin]:
    """A pip-compile lock file: each package's pinned version and its hashes."""
    pins: dict[str, Pin] = {}
    text = (REPO / name).read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        found = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})*)", line)
        assert found, f"{name}: not a pinned requirement with hashes: {line!r}"
        package, version, hashes = found.groups()
        pins[canonicalize_name(package)] = Pin(version, tuple(hashes.split()))
    return pins


def closure(requirements: list[str]) -> Iterator[Requirement]:
    """Each requirement and, through the installed packages' metadata, all they require in
    turn on this interpreter (with the extras asked for)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(text) for text in requirements]
    while todo:
        requirement = todo.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        yield requirement
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:  # pragma: no cover - `make test` installs all
            pytest.fail(f"{requirement.name} is not installed: run `make test`")
        for text in requires:
            needed = Requirement(text)
            extras = ["", *sorted(requirement.extras)]
            if needed.marker is None or any(
                needed.marker.evaluate({"extra": extra}) for extra in extras
            ):
                todo.append(needed)


# ---------------------------------------------------------------------- compose.yaml


def test_compose_gives_the_bot_only_settings_that_exist() -> None:
    assert set(bots()) == {"bot", "sandbox-bot"}
    for name, service in bots().items():
        unknown = set(environment(service)) - SETTINGS
        assert not unknown, f"{name} sets what the bot never reads: {sorted(unknown)}"


def test_compose_gives_postgresql_only_its_own_variables_and_a_named_volume() -> None:
    declared = set(compose()["volumes"])
    assert set(databases()) == {"db", "sandbox-db"}
    for name, service in databases().items():
        assert service["image"].startswith("postgres:15"), name
        assert set(environment(service)) <= POSTGRES_VARIABLES, name
        volume = service["volumes"][0].split(":")
        assert volume[0] in declared and volume[1] == "/var/lib/postgresql/data", name


def test_each_bot_reads_env_and_reaches_the_database_of_its_profile() -> None:
    for name, service in bots().items():
        assert service["env_file"] == ".env", name
        url = urlsplit(environment(service)["DATABASE_URL"])
        assert url.scheme == "postgresql", name
        database = services()[str(url.hostname)]
        assert database["profiles"] == service["profiles"], name
        assert service["depends_on"][url.hostname]["condition"] == "service_healthy"
        database_env = environment(database)
        assert url.path == "/" + database_env["POSTGRES_DB"]
        assert url.username == database_env["POSTGRES_USER"]


def test_every_service_restarts_and_has_a_healthcheck() -> None:
    for name, service in services().items():
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name


def test_profiles_never_run_two_bots_at_once() -> None:
    profiles = [tuple(service["profiles"]) for service in bots().values()]
    assert sorted(profiles) == [("paid",), ("sandbox",)]
    for service in services().values():
        assert service["profiles"], "a service without a profile would run in both"


def test_the_sandbox_service_runs_the_sandbox_cli_and_its_bot_points_at_it() -> None:
    sandbox = services()["sandbox"]
    assert sandbox["entrypoint"] == ["python", "-m", "bot.sandbox"]
    config = parse_args([str(word) for word in sandbox["command"]])  # exits 2 if it were wrong
    assert config.host == "0.0.0.0"
    assert config.public_url is not None
    public = urlsplit(config.public_url)
    assert (public.hostname, public.port) == ("sandbox", config.port)
    bot = environment(services()["sandbox-bot"])
    assert bot["AIMLAPI_BASE_URL"] == f"{config.public_url}/v2"
    assert bot["AIMLAPI_KEY"] != ""  # the sandbox's, never the paid key from .env
    assert services()["sandbox-bot"]["depends_on"]["sandbox"]["condition"] == "service_healthy"
    assert str(config.port) in sandbox["healthcheck"]["test"][-1]


def test_the_bots_healthcheck_asks_healthz_on_its_http_port() -> None:
    image_port = {
        name: value
        for instruction in dockerfile()
        if instruction.keyword == "ENV"
        for name, _, value in [word.partition("=") for word in shlex.split(instruction.arguments)]
    }["HTTP_PORT"]
    for name, service in bots().items():
        port = environment(service)["HTTP_PORT"]
        assert port == image_port, name
        assert f"http://127.0.0.1:{port}/healthz" in service["healthcheck"]["test"][-1], name


# ---------------------------------------------------------------------- the lock files


def test_the_lock_pins_every_runtime_dependency_with_its_hashes() -> None:
    pins = lock("requirements.lock")
    dependencies = PYPROJECT["project"]["dependencies"]
    missing = []
    for requirement in closure(dependencies):
        pin = pins.get(canonicalize_name(requirement.name))
        if pin is None:
            missing.append(requirement.name)
            continue
        assert requirement.specifier.contains(pin.version, prereleases=True), (
            f"{requirement.name}=={pin.version} in requirements.lock is outside {requirement}"
        )
        assert pin.hashes, requirement.name
    assert not missing, f"requirements.lock lacks {sorted(missing)}: run `make lock`"


def test_the_lock_keeps_pyproject_its_lower_bounds() -> None:
    for text in PYPROJECT["project"]["dependencies"]:
        operators = {spec.operator for spec in Requirement(text).specifier}
        assert "==" not in operators, f"{text}: pins belong in requirements.lock"


def test_the_build_lock_pins_the_build_backend_with_its_hashes() -> None:
    pins = lock("requirements-build.lock")
    for text in PYPROJECT["build-system"]["requires"]:
        requirement = Requirement(text)
        pin = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(pin.version) and pin.hashes


# ---------------------------------------------------------------------- the image and the unit


def test_the_image_installs_the_lock_by_hash_then_the_project_without_dependencies() -> None:
    runs = " && ".join(i.arguments for i in dockerfile() if i.keyword == "RUN" and i.stage == 0)
    steps = [shlex.split(step) for step in runs.split("&&")]
    installs = [step for step in steps if step[:2] == ["/opt/venv/bin/pip", "install"]]
    assert installs[0][2:] == ["--require-hashes", "--no-deps", "-r", "/tmp/requirements.lock"]
    assert installs[1][2:] == [
        "--require-hashes",
        "--no-deps",
        "-r",
        "/tmp/requirements-build.lock",
    ]
    assert "--no-deps" in installs[2] and installs[2][-1] == "."
    assert len(installs) == 3  # nothing else is resolved from an index


def test_the_image_keeps_the_catalogs_beside_the_packages_as_the_bot_reads_them() -> None:
    # The bot reads locales/ next to the directory of its packages (bot/words/texts.py).
    assert LOCALES_DIR == REPO / "locales"
    workdir = next(i.arguments for i in dockerfile() if i.keyword == "WORKDIR" and i.stage == 0)
    copied = {
        words[0]: words[1]
        for i in dockerfile()
        if i.keyword == "COPY" and i.stage == 0 and "--from" not in i.arguments
        for words in [shlex.split(i.arguments)]
        if len(words) == 2
    }
    packages = [
        name.rstrip("*") for name in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    for source in [*packages, "locales"]:
        assert copied.get(source) == f"./{source}", f"{source} is not copied into {workdir}"
    final = [i for i in dockerfile() if i.stage == 1]
    assert any(
        i.keyword == "COPY" and i.arguments == f"--from=build {workdir} {workdir}" for i in final
    )


def test_nothing_the_image_copies_is_left_out_of_the_build_context() -> None:
    ignored = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for instruction in dockerfile():
        if instruction.keyword != "COPY" or "--from" in instruction.arguments:
            continue
        for source in shlex.split(instruction.arguments)[:-1]:
            assert (REPO / source).exists(), source
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
    for secret in (".env", ".git", ".venv", "data"):
        assert secret in ignored


def test_the_image_runs_python_m_bot_as_a_user_with_a_data_volume() -> None:
    final = [i for i in dockerfile() if i.stage == 1]
    assert [i for i in final if i.keyword == "ENTRYPOINT"][-1].arguments == json.dumps(
        ["python", "-m", "bot"]
    )
    user = [i for i in final if i.keyword == "USER"][-1].arguments
    assert user.split(":")[0] not in ("root", "0")
    env = {
        name: value
        for i in final
        if i.keyword == "ENV"
        for name, _, value in [word.partition("=") for word in shlex.split(i.arguments)]
    }
    assert set(env) - INTERPRETER_VARIABLES <= SETTINGS
    assert env["DATABASE_PATH"].startswith("/data/")
    assert [i.arguments for i in final if i.keyword == "VOLUME"] == ['["/data"]']
    healthcheck = [i for i in final if i.keyword == "HEALTHCHECK"][-1].arguments
    assert "/healthz" in healthcheck and "curl" not in healthcheck


def test_the_systemd_unit_runs_python_m_bot_from_the_venv_with_an_environment_file() -> None:
    unit: dict[str, list[str]] = {}
    for line in (REPO / "deploy" / "photo-animator-bot.service").read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            unit.setdefault(key, []).append(value)
    command = shlex.split(unit["ExecStart"][0])
    assert command[0].endswith("/.venv/bin/python") and command[1:] == ["-m", "bot"]
    assert unit["EnvironmentFile"] and unit["Restart"] == ["on-failure"]
    assert unit["NoNewPrivileges"] == ["yes"] and unit["ProtectSystem"] == ["strict"]
    state = "/var/lib/" + unit["StateDirectory"][0]
    for assignment in unit["Environment"]:
        name, _, value = assignment.partition("=")
        assert name in SETTINGS, name
        if name == "DATABASE_PATH":
            assert value.startswith(state + "/"), "SQLite must be in the writable state directory"
