# The bot's image (see "Deploy" in the README): `docker build -t photo-animator-bot .`
# Two stages: the first installs the locked dependencies and the project into /opt/venv, the
# second takes only that venv and the code, and runs them as a user without privileges.

# ---- build: the venv, from the lock files only -----------------------------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Each file pip installs is checked against its hash in the lock; nothing else is resolved.
COPY requirements.lock requirements-build.lock /tmp/
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements.lock

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY chat ./chat
COPY handlers ./handlers
COPY storage ./storage
COPY locales ./locales

# The project itself, without dependencies, installed from /app in place: the catalogs are
# read from locales/ beside the packages (LOCALES_DIR in bot/words/texts.py), so the code
# stays next to them. setuptools (locked too) builds it and is removed again, and the import
# of the words fails the build if the catalogs are not where the bot will look.
RUN /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements-build.lock \
    && /opt/venv/bin/pip install --no-deps --no-build-isolation --editable . \
    && /opt/venv/bin/pip uninstall --yes setuptools \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/python -c "import bot.words.texts" \
    && /opt/venv/bin/python -m compileall -q bot chat handlers storage

# ---- runtime: the venv, the code, a user of its own ---------------------------------------
FROM python:3.11-slim

RUN useradd --system --user-group --uid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin bot \
    && install -d -o bot -g bot -m 0750 /data

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app

# HTTP_PORT set, so that the HTTP server (/healthz, /readyz) runs in polling mode too.
# DATABASE_PATH is the SQLite file, in the volume; DATABASE_URL (PostgreSQL) replaces it.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HTTP_PORT=8080 \
    DATABASE_PATH=/data/bot.sqlite3

WORKDIR /app
# By number, so that Kubernetes' runAsNonRoot can tell it is not root.
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080

# The slim image has no curl: Python asks /healthz, and any answer but 200 is a failure.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HTTP_PORT', '8080') + '/healthz', timeout=4)"]

# Arguments go to the bot, e.g. `docker run ... photo-animator-bot check`.
ENTRYPOINT ["python", "-m", "bot"]
