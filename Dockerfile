# Amends: the decision service under gunicorn, with the shipped policy.
FROM python:3.11-slim-bookworm

# gcc builds durable-rules (a C extension) from source; it is removed after the install.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    AMENDS_DATA_DIR=/var/lib/amends \
    AMENDS_HOST=0.0.0.0 \
    AMENDS_PORT=8000 \
    AMENDS_WORKERS=2

WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY schemas ./schemas
COPY rules ./rules
# No key file is baked in: mount one and set AMENDS_API_KEYS_FILE, or the service refuses to
# start (the development keys in config/ are never part of the image).

# Debian's security updates replace exact versions, so build tools are not pinned (DL3008).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir . \
    && apt-get purge -y --auto-remove gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home amends \
    && mkdir -p /var/lib/amends && chown 10001 /var/lib/amends

USER 10001
# The embedded SQLite lives here; set AMENDS_DATABASE_URL for PostgreSQL instead.
VOLUME ["/var/lib/amends"]
EXPOSE 8000
# Where it listens is AMENDS_HOST and AMENDS_PORT (the health check asks the same port).
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os,urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('AMENDS_PORT', '8000'), timeout=2).status == 200 else 1)"]
CMD ["amends", "serve"]
