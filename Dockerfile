# The Pixazo Discord bot in a slim image that runs as a non-root user.
#
# These steps are the README's own, and must stay identical to them: `pip install .`, then
# `python -m bot`, with the settings from the environment (`docker run --env-file .env`).
# No Docker engine runs where this project is built and tested, so this file has not been built
# there; change it only together with the README's "Setup and run" section.
#
#   docker build -t pixazo-bot .
#   docker run --env-file .env -v pixazo-data:/data pixazo-bot

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app

# pyproject.toml names README.md as the package's readme, so the build needs it too.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install .

RUN useradd --create-home --uid 10001 bot

# The SQLite ledger and the command-sync state live here; mount a volume to keep them.
ENV DATA_DIR=/data
RUN mkdir -p /data && chown bot:bot /data
VOLUME /data

USER bot
CMD ["python", "-m", "bot"]
