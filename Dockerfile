# Medvirk: the bot in one container (webhook mode behind a TLS proxy, or long polling).
# docker build -t medvirk . ; see compose.yaml and docs/operations.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# The package only (dependencies first would need a lock file; one layer is fine at this size).
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY models ./models
# `medvirk run` without BOT_TOKEN starts the offline sandbox.
COPY sandbox ./sandbox
RUN pip install . \
    && useradd --create-home --uid 10001 medvirk \
    && mkdir /data && chown medvirk /data

USER medvirk
# /data holds the SQLite file when DATABASE_URL is not PostgreSQL; mount a volume there.
WORKDIR /data
ENV DATABASE_URL=sqlite+aiosqlite:////data/medvirk.db \
    WEB_HOST=0.0.0.0 \
    WEB_PORT=8080 \
    LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
# SIGTERM finishes the updates in flight (up to 10 s) and exits 0; give it time to.
STOPSIGNAL SIGTERM
CMD ["medvirk", "run"]
