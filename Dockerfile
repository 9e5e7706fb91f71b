# syntax=docker/dockerfile:1
# Quarry's container image. Two targets from one file:
#   docker build -t quarry .                     the server (ECS, Kubernetes, docker run); the default, last stage
#   docker build --target lambda -t quarry:lambda .   the same server plus the AWS Lambda Web Adapter
# See docs/deploy.md.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
# The AWS Lambda Web Adapter release copied into the `lambda` target (public.ecr.aws/awsguru/aws-lambda-adapter).
ARG LWA_VERSION=0.9.1

# --- build: a wheel of Quarry, installed with its extras into a venv that the runtime stages copy whole ----------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements-all.txt ./requirements-all.txt
COPY src ./src
# Dependencies from the lock (exact versions, hashes checked), then Quarry's own wheel without resolving again.
# Every dependency ships manylinux wheels for x86_64 and arm64, so no compiler is needed even here.
RUN python -m venv /opt/quarry \
 && /opt/quarry/bin/pip install --upgrade pip \
 && /opt/quarry/bin/pip install --require-hashes -r requirements-all.txt \
 && /opt/quarry/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/quarry/bin/pip install --no-deps "$(ls /wheels/quarry-*.whl)" \
 && /opt/quarry/bin/pip uninstall --yes pip

# --- runtime: the venv on a bare slim Python, run as an unprivileged user -----------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# A fixed uid/gid, so task definitions and volume permissions can name it (ECS `User: "10001:10001"`).
RUN groupadd --system --gid 10001 quarry \
 && useradd --system --uid 10001 --gid quarry --home-dir /var/lib/quarry --shell /usr/sbin/nologin quarry \
 && mkdir -p /var/lib/quarry \
 && chown quarry:quarry /var/lib/quarry
COPY --from=build /opt/quarry /opt/quarry
ENV PATH=/opt/quarry/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    QUARRY_DATA_DIR=/var/lib/quarry
# Fargate copies a VOLUME's ownership onto the bind mount at the same path, so the non-root user can write both
# with a read-only root filesystem; Lambda only ever writes /tmp.
VOLUME ["/var/lib/quarry", "/tmp"]
USER 10001:10001
WORKDIR /var/lib/quarry
EXPOSE 8080
# Slim images have no curl: the check is Python's stdlib, and urlopen raises (exit 1) on anything but 2xx.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4)"]
# On SIGTERM, streams in flight get QUARRY_SHUTDOWN_GRACE_S to finish: give `docker stop --time` a little more.
STOPSIGNAL SIGTERM
ENTRYPOINT ["quarry"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]

# --- lambda: the Lambda Web Adapter as an extension; it proxies invocations to port 8080 and streams the answer ---
FROM public.ecr.aws/awsguru/aws-lambda-adapter:${LWA_VERSION} AS lambda-adapter
FROM runtime AS lambda
COPY --from=lambda-adapter /lambda-adapter /opt/extensions/lambda-adapter
ENV AWS_LWA_PORT=8080 \
    AWS_LWA_READINESS_CHECK_PATH=/health \
    AWS_LWA_INVOKE_MODE=response_stream \
    AWS_LWA_ASYNC_INIT=true \
    QUARRY_DATA_DIR=/tmp/quarry

# --- server: the default target ------------------------------------------------------------------------------------
FROM runtime AS server
