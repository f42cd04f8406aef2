"""The deploy files name only what exists: the settings compose and the unit give the bot, the
pins of the lock, the image's layout and its entry point; and the TLS proxies in front of
several instances pass Telegram's posts, and nothing else, to the instances compose runs.

No Docker engine runs where these tests do, so the image is never built here: these checks,
with hadolint in `make lint`, are what can be tried of it.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
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
from bot.wiring.webserver import SECRET_HEADER, WebServer
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
#: The ports Telegram posts a webhook to (setWebhook's documentation).
WEBHOOK_PORTS = frozenset({443, 80, 88, 8443})
NGINX_SITE = REPO / "deploy" / "nginx" / "photo-animator-bot.conf"
CADDYFILE = REPO / "deploy" / "Caddyfile"


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
    assert set(bots()) == {"bot", "sandbox-bot", "bot-1", "bot-2"}
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
        assert set(service["profiles"]) <= set(database["profiles"]), name
        # Jobs made on the sandbox never reach a bot that asks the paid API about them.
        assert ("sandbox" in database["profiles"]) == ("sandbox" in service["profiles"]), name
        assert service["depends_on"][url.hostname]["condition"] == "service_healthy"
        database_env = environment(database)
        assert url.path == "/" + database_env["POSTGRES_DB"]
        assert url.username == database_env["POSTGRES_USER"]


def test_every_service_restarts_and_has_a_healthcheck() -> None:
    for name, service in services().items():
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name


def test_only_the_scaled_profile_runs_more_than_one_bot() -> None:
    bots_in = Counter(profile for service in bots().values() for profile in service["profiles"])
    assert bots_in == {"paid": 1, "sandbox": 1, "scaled": 2}
    for service in services().values():
        assert service["profiles"], "a service without a profile would run in every one"


def test_the_scaled_instances_share_the_paid_database_with_names_and_ports_of_their_own() -> None:
    scaled = {name: bot for name, bot in bots().items() if "scaled" in bot["profiles"]}
    urls = {environment(bot)["DATABASE_URL"] for bot in scaled.values()}
    assert urls == {environment(services()["bot"])["DATABASE_URL"]}
    names = [environment(bot)["INSTANCE_NAME"] for bot in scaled.values()]
    assert all(names) and len(set(names)) == len(names)
    for name, bot in scaled.items():
        [published] = bot["ports"]
        host, _, container_port = published.rpartition(":")
        assert host.startswith("127.0.0.1:"), f"{name} must be reached only through the proxy"
        assert container_port == environment(bot)["HTTP_PORT"], name
    assert len(scaled_instances()) == len(scaled)


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


# ---------------------------------------------------------------------- the TLS proxies


@dataclass(frozen=True)
class Directive:
    """One directive of an nginx config or a Caddyfile: its name, its arguments and, when it
    opens a block, the directives inside."""

    name: str
    args: tuple[str, ...]
    block: tuple[Directive, ...] = ()


def named(directives: Iterable[Directive], name: str) -> list[Directive]:
    return [directive for directive in directives if directive.name == name]


def nginx_site() -> tuple[Directive, ...]:
    """deploy/nginx/photo-animator-bot.conf, comments left out."""
    text = "\n".join(line.split("#", 1)[0] for line in NGINX_SITE.read_text().splitlines())
    tokens = iter(re.findall(r'"[^"]*"|[{};]|[^\s{};"]+', text))

    def block() -> tuple[Directive, ...]:
        found: list[Directive] = []
        words: list[str] = []
        for token in tokens:
            if token == "}":
                break
            if token in (";", "{"):
                found.append(Directive(words[0], tuple(words[1:]), block() if token == "{" else ()))
                words = []
            else:
                words.append(token.strip('"'))
        assert not words, f"unterminated directive {words}"
        return tuple(found)

    return block()


def caddyfile() -> tuple[Directive, ...]:
    """deploy/Caddyfile, comments left out: a directive a line, a block opened at its end."""
    lines = iter(shlex.split(line, comments=True) for line in CADDYFILE.read_text().splitlines())

    def block() -> tuple[Directive, ...]:
        found: list[Directive] = []
        for words in lines:
            if words == ["}"]:
                break
            if words and words[-1] == "{":
                found.append(Directive(words[0], tuple(words[1:-1]), block()))
            elif words:
                found.append(Directive(words[0], tuple(words[1:])))
        return tuple(found)

    return block()


def scaled_instances() -> set[str]:
    """Where the proxy on the host reaches the scaled profile's instances: the ports they are
    published on."""
    return {
        bot["ports"][0].rpartition(":")[0] for bot in bots().values() if "scaled" in bot["profiles"]
    }


def nginx_route(path: str) -> Directive:
    """The location of the nginx site that serves `path`: an exact match (`location = /x`)
    first, else the longest prefix."""
    [server] = named(nginx_site(), "server")
    locations = named(server.block, "location")
    exact = [loc for loc in locations if loc.args[:1] == ("=",) and loc.args[1] == path]
    prefixes = [loc for loc in locations if len(loc.args) == 1 and path.startswith(loc.args[0])]
    return exact[0] if exact else max(prefixes, key=lambda loc: len(loc.args[0]))


def caddy_route(path: str) -> Directive:
    """The `handle` of the Caddy site that serves `path`: one whose path matches it, else the
    one without a matcher."""
    [site] = caddyfile()
    handles = named(site.block, "handle")
    matching = [handle for handle in handles if handle.args == (path,)]
    return (matching or [handle for handle in handles if not handle.args])[0]


def readme_webhook_url() -> str:
    """The TELEGRAM_WEBHOOK_URL of the README's examples: one, the same in all of them."""
    readme = (REPO / "README.md").read_text()
    [url] = {str(found) for found in re.findall(r"TELEGRAM_WEBHOOK_URL=(https://\S+)", readme)}
    return url


def webhook_path() -> str:
    return urlsplit(readme_webhook_url()).path


def test_the_proxies_serve_the_readmes_webhook_url_over_https_on_a_port_telegram_posts_to() -> None:
    public = urlsplit(readme_webhook_url())
    [server] = named(nginx_site(), "server")
    [listen] = named(server.block, "listen")
    assert int(listen.args[0].rpartition(":")[2]) in WEBHOOK_PORTS and "ssl" in listen.args
    assert named(server.block, "server_name")[0].args == (public.hostname,)
    assert named(server.block, "ssl_certificate") and named(server.block, "ssl_certificate_key")
    # A bare host name: Caddy serves it over HTTPS on 443, with a certificate of its own.
    [site] = caddyfile()
    assert site.name == public.hostname and not site.args


def test_the_proxies_pass_the_webhook_path_to_every_scaled_instance() -> None:
    path = webhook_path()
    instances = scaled_instances()
    assert len(instances) == 2

    location = nginx_route(path)
    assert location.args == ("=", path)
    [proxy_pass] = named(location.block, "proxy_pass")
    upstream_name = urlsplit(proxy_pass.args[0]).hostname
    [upstream] = [u for u in named(nginx_site(), "upstream") if u.args == (upstream_name,)]
    assert {server.args[0] for server in named(upstream.block, "server")} == instances

    [reverse_proxy] = named(caddy_route(path).block, "reverse_proxy")
    assert set(reverse_proxy.args) == instances


def test_the_proxies_keep_metrics_and_the_health_checks_private() -> None:
    private = ["/metrics", "/healthz", "/readyz", "/", "/telegram/more"]
    for path in private:
        location = nginx_route(path)
        assert not named(location.block, "proxy_pass"), f"nginx passes {path} on"
        assert named(location.block, "return")[0].args == ("404",), path
        handle = caddy_route(path)
        assert not named(handle.block, "reverse_proxy"), f"Caddy passes {path} on"
        assert named(handle.block, "respond")[0].args == ("404",), path


def test_the_proxies_pass_the_secret_header_on_as_it_came() -> None:
    def about_the_secret(directives: list[Directive]) -> list[Directive]:
        return [d for d in directives if SECRET_HEADER.lower() in d.args[0].lower()]

    location = nginx_route(webhook_path())
    variable = "$http_" + SECRET_HEADER.lower().replace("-", "_")
    assert about_the_secret(named(location.block, "proxy_set_header")) == [
        Directive("proxy_set_header", (SECRET_HEADER, variable))
    ]
    assert Directive("proxy_pass_request_headers", ("off",)) not in location.block

    [reverse_proxy] = named(caddy_route(webhook_path()).block, "reverse_proxy")
    assert about_the_secret(named(reverse_proxy.block, "header_up")) == [
        Directive("header_up", (SECRET_HEADER, f"{{header.{SECRET_HEADER}}}"))
    ]


def test_nginx_passes_a_post_one_instance_could_not_take_to_the_other() -> None:
    location = nginx_route(webhook_path())
    [next_upstream] = named(location.block, "proxy_next_upstream")
    # non_idempotent: a POST is tried again too; an update posted twice is handled once.
    assert {"error", "timeout", "http_503", "non_idempotent"} <= set(next_upstream.args)


def test_caddy_posts_only_to_instances_whose_readyz_answers() -> None:
    [reverse_proxy] = named(caddy_route(webhook_path()).block, "reverse_proxy")
    [health_uri] = named(reverse_proxy.block, "health_uri")
    server = WebServer(host="127.0.0.1", port=0)
    routes = {resource.canonical for resource in server.app.router.resources()}
    assert health_uri.args == ("/readyz",) and "/readyz" in routes


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
