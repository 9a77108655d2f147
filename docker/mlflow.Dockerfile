# syntax=docker/dockerfile:1
# The MLflow tracking server image that components/kubernetes/mlflow_server.py runs.
#
#   docker build -f docker/mlflow.Dockerfile -t ml-platform/mlflow:3.17.2 .
#   docker run --rm -p 5000:5000 ml-platform/mlflow:3.17.2 \
#       mlflow server --host 0.0.0.0 --backend-store-uri sqlite:////tmp/mlflow.db
#
# In the cluster the component passes the command line (`mlflow server --app-name basic-auth
# --serve-artifacts ...`), the backend store URI through MLFLOW_BACKEND_STORE_URI from a Secret,
# the auth app's ini file through MLFLOW_AUTH_CONFIG_PATH, and S3 credentials through the
# service account's IAM role. The root filesystem is read-only there: only /tmp (HOME) is
# writable, so nothing at run time may need to write elsewhere.

# Pinned to a patch release: rebuilds are reproducible and updates are a reviewed change.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Exact versions: the server's database schema migrates with MLflow's version, so an upgrade is a
# deliberate change of this line (and of the image tag). [auth] brings the basic-auth app's
# dependencies; psycopg2 talks to PostgreSQL (RDS or in-cluster); boto3 reaches S3 for the
# proxied artifacts.
RUN pip install \
        'mlflow[auth]==3.17.2' \
        'psycopg2-binary==2.9.13' \
        'boto3==1.44.5'

# The platform's uid/gid (components/kubernetes/pod_security.py PLATFORM_UID); no login shell,
# no home directory: HOME points at the writable /tmp.
RUN groupadd --gid 10001 mlflow \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin mlflow

ENV HOME=/tmp
WORKDIR /tmp
EXPOSE 5000
USER 10001:10001

HEALTHCHECK --interval=30s --timeout=3s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=2)"

CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000"]
