"""gunicorn settings of the REST API that ``mirror serve`` starts; it passes them in the environment.

MIRROR_API_BIND (host:port), MIRROR_API_WORKERS, MIRROR_API_THREADS (requests each worker serves
at once, default 8), MIRROR_API_TLS_CERT and MIRROR_API_TLS_KEY (PEM files; both or neither). The
app reads MIRROR_DATABASE_URL and its own settings (mirror.api.app).
"""

import os
from typing import Any

wsgi_app = "mirror.api.app:wsgi_app()"
bind = [os.environ.get("MIRROR_API_BIND", "127.0.0.1:8083")]
workers = int(os.environ.get("MIRROR_API_WORKERS", "2"))
# Threads, not one request per process: a request that waits on Kafka (the offsets endpoints, up to
# their deadline, mirror.service.kafka_offsets) must not hold up /health and the rest of the API.
worker_class = "gthread"
threads = int(os.environ.get("MIRROR_API_THREADS", "8"))
certfile = os.environ.get("MIRROR_API_TLS_CERT") or None
keyfile = os.environ.get("MIRROR_API_TLS_KEY") or None

proc_name = "mirror-api"
# One control socket per user would be shared by every `mirror serve` on the host; mirror serve
# manages its server itself.
control_socket_disable = True
timeout = 60
graceful_timeout = 5
"""``mirror serve`` waits 10 s for a clean stop before it kills the server."""

accesslog = "-"
errorlog = "-"
# The path without its query string (%(U)s, not %(r)s): a query may carry a secret. No headers,
# no referer: Authorization and links are not logged either.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'


def child_exit(server: object, worker: Any) -> None:
    """A dead API worker's live gauges must not linger in the shared metrics directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess  # noqa: PLC0415 - only in multiprocess mode

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]  # unannotated upstream
