# The Pixazo Discord bot in a slim image that runs as a non-root user.
#
# These steps are the README's own: `pip install .` (here in two steps, dependencies first), then
# `python -m bot`, with the settings from the environment (`docker run --env-file .env`).
# No Docker engine runs where this project is built and tested, so this file has not been built
# there; change it only together with the README's quick start and docs/operations.md's "Docker".
#
#   docker build -t pixazo-bot .
#   docker run -d --name pixazo-bot --restart unless-stopped --env-file .env -v pixazo-data:/data pixazo-bot

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app

# The dependencies first, read from pyproject.toml alone: this layer is rebuilt only when they
# change, not on every change to the code. The image check's extra is included (`.[image-check]`).
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['image-check']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

RUN useradd --create-home --uid 10001 bot

# The SQLite ledger, the command-sync state and the heartbeat live here. A new named volume starts
# as a copy of this directory, owner included, so the bot can write to it; a bind mount must be
# writable by uid 10001 (the bot says so at start if it is not).
ENV DATA_DIR=/data
RUN mkdir -p /data && chown bot:bot /data
VOLUME /data

# Then the code, installed without its dependencies (already there). pyproject.toml names
# README.md as the package's readme, so the build needs it too.
COPY README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-deps .

USER bot

# Healthy while the running bot keeps its heartbeat in /data fresh and is connected to Discord;
# the check reads only that file, no secret. The start period covers logging in and the first sync.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["python", "-m", "bot", "--health"]

CMD ["python", "-m", "bot"]
