"""`python -m bot.sandbox`: serve the AI/ML API stand-in on 127.0.0.1 (or --host) until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from bot.sandbox.render import PLACEHOLDER, VideoSpec, encoder, pyav_version
from bot.sandbox.server import DEFAULT_PORT, SandboxConfig, SandboxServer
from bot.sandbox.serving import LOOPBACK
from bot.wiring.logs import setup_logging

log = logging.getLogger("bot.sandbox")


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError("must be between 0 and 3600 seconds")
    return value


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse


def _host(text: str) -> str:
    if not text or any(char.isspace() or char in "/[]" for char in text):
        raise argparse.ArgumentTypeError("must be an address or a host name, like 0.0.0.0")
    return text


def _origin(text: str) -> str:
    parts = urlsplit(text.rstrip("/"))
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
    ):
        raise argparse.ArgumentTypeError(
            "must be an origin without a path, like http://sandbox:8787"
        )
    return f"{parts.scheme}://{parts.netloc}"


def parse_args(argv: Sequence[str] | None = None) -> SandboxConfig:
    """The sandbox's configuration from its command line. Exits 2 on a bad option."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.sandbox",
        description="A local stand-in of the AI/ML API's MiniMax video endpoints: try the bot "
        "with AIMLAPI_BASE_URL=http://127.0.0.1:PORT/v2 and spend no credits.",
    )
    parser.add_argument(
        "--host",
        type=_host,
        default=LOOPBACK,
        help="address to listen on (default %(default)s; 0.0.0.0 in a container, so that "
        "the bot's container reaches it)",
    )
    parser.add_argument(
        "--port",
        type=_bounded(0, 65535),
        default=DEFAULT_PORT,
        help="port to listen on (default %(default)s; 0 picks a free one)",
    )
    parser.add_argument(
        "--public-url",
        type=_origin,
        default=None,
        metavar="URL",
        help="where the bot reaches the sandbox, like http://sandbox:8787: its base URL and "
        "its video links are given there (default: http://HOST:PORT)",
    )
    parser.add_argument(
        "--queued-seconds",
        type=_seconds,
        default=3.0,
        help="how long a job stays 'queued' (default %(default)s)",
    )
    parser.add_argument(
        "--generating-seconds",
        type=_seconds,
        default=12.0,
        help="then how long it stays 'generating' (default %(default)s)",
    )
    parser.add_argument(
        "--fail-every",
        type=_bounded(0, 1_000_000),
        default=0,
        metavar="N",
        help="make every Nth job fail with a moderation error (default: none)",
    )
    parser.add_argument(
        "--create-answer",
        choices=("seed", "schema"),
        default="seed",
        help="how the vendor path answers a create: {generation_id, status} as the model's "
        "page shows (seed), or the whole status object with id, as the API's schema "
        "documents (schema); default %(default)s. The universal endpoint answers {id, status}",
    )
    parser.add_argument(
        "--video-seconds",
        type=float,
        default=4.0,
        help="length of the rendered video (default %(default)s)",
    )
    parser.add_argument(
        "--fps", type=_bounded(1, 60), default=24, help="its frame rate (default %(default)s)"
    )
    parser.add_argument(
        "--short-side",
        type=_bounded(64, 1080),
        default=480,
        help="its shorter side in pixels (default %(default)s)",
    )
    args = parser.parse_args(argv)
    if not 0.1 <= args.video_seconds <= 30:
        parser.error("argument --video-seconds: must be between 0.1 and 30")
    return SandboxConfig(
        port=args.port,
        host=args.host,
        public_url=args.public_url,
        queued_seconds=args.queued_seconds,
        generating_seconds=args.generating_seconds,
        fail_every=args.fail_every,
        create_answer=args.create_answer,
        video=VideoSpec(seconds=args.video_seconds, fps=args.fps, short_side=args.short_side),
    )


def describe(sandbox: SandboxServer) -> str:
    """The start-up line: where the sandbox is and how it behaves."""
    config = sandbox.config
    n = config.fail_every
    failures = (
        "none fails" if n == 0 else "every one fails" if n == 1 else f"jobs {n}, {2 * n}, ... fail"
    )
    codec = encoder()
    if codec is None:
        videos = (
            f"a fixed {PLACEHOLDER.seconds:g} s placeholder clip (PyAV is not installed: "
            "pip install -e '.[sandbox]' to render real ones)"
        )
    else:
        spec = config.video
        videos = (
            f"a Ken Burns move over the first frame, {spec.seconds:g} s at {spec.fps} fps, "
            f"shorter side {spec.short_side} px, {codec} (PyAV {pyav_version()})"
        )
    # Behind a public URL (another container's name), the address it binds is worth saying too.
    listening = "" if config.public_url is None else f", listening on {config.host}:{sandbox.port}"
    return (
        f"AI/ML API sandbox at {sandbox.base_url}{listening}: set AIMLAPI_BASE_URL to "
        f"{sandbox.base_url}; no credits are spent and any non-empty key is accepted. "
        f"Jobs: queued {config.queued_seconds:g} s, "
        f"generating {config.generating_seconds:g} s, {failures}. Videos: {videos}."
    )


async def serve(config: SandboxConfig) -> None:
    """Serve until SIGINT or SIGTERM. Raises OSError when the port is taken."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with SandboxServer(config) as sandbox:
        log.info("%s", describe(sandbox))
        await stop.wait()
        log.info("stopping")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox; returns the process exit code."""
    config = parse_args(argv)
    setup_logging("INFO", [])
    try:
        asyncio.run(serve(config))
    except OSError as error:
        print(
            f"sandbox: cannot listen on {config.host}:{config.port} "
            f"({error.strerror or error}); choose another port with --port, or host with --host",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
