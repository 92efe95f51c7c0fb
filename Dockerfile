# eh-broker in a container: README's "Running in production" steps, as an image.
#
#   docker build -t eh-broker .
#   docker compose up -d      (compose.yaml: the broker, PostgreSQL and Redis)
#
# The same requirements file and the same gunicorn command as README; tests/test_deployment.py
# holds the two together.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BROKER_ENV=production \
    PORT=8000 \
    PROMETHEUS_MULTIPROC_DIR=/run/eh-broker/metrics

# The pinned runtime requirements only: lxml, xmlsec, cryptography and psycopg come as wheels
# with their C libraries inside, so the image needs no compiler.
WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY wsgi.py gunicorn.conf.py ./
COPY config/ config/
COPY saml/ saml/
COPY broker/ broker/
COPY migrations/ migrations/

# The code belongs to root; the broker runs as a user of its own, which writes only the metrics folder.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin broker \
    && mkdir -p "$PROMETHEUS_MULTIPROC_DIR" \
    && chown broker "$PROMETHEUS_MULTIPROC_DIR"
USER broker

EXPOSE 8000
# /healthz: the process answers. Readiness (database, keys, metadata) is /readyz, for the load balancer.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['PORT']}/healthz\", timeout=2)"]

CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
