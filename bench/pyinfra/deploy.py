"""The six edits of remediate's shipped playbook, as a pyinfra user writes them with files.line
(files.block for the systemd drop-in, which needs its [Service] header). Run with change detection:

    pyinfra inventory.py deploy.py --dry --diff --parallel 50

(not ``-y``: it skips change detection and would do less work than a plan).
"""

from pyinfra.operations import files

REDIS = "/etc/redis/redis.conf"
RABBITMQ = "/etc/rabbitmq/rabbitmq.conf"
DROPIN_DIR = "/etc/systemd/system/rabbitmq-server.service.d"
CELERY = "/srv/app/celeryconfig.py"

files.line(
    name="Redis never closes idle clients", path=REDIS, line=r"^timeout .*", replace="timeout 0"
)
files.line(
    name="Redis sends TCP keepalives every 60 s",
    path=REDIS,
    line=r"^tcp-keepalive .*",
    replace="tcp-keepalive 60",
)
files.line(
    name="RabbitMQ suggests a 60 s heartbeat",
    path=RABBITMQ,
    line=r"^heartbeat *=.*",
    replace="heartbeat = 60",
)
files.directory(name="The rabbitmq-server drop-in directory exists", path=DROPIN_DIR)
files.block(
    name="rabbitmq-server gets 65536 file descriptors under systemd",
    path=f"{DROPIN_DIR}/limits.conf",
    content="[Service]\nLimitNOFILE=65536",
)
files.line(
    name="Celery workers reconnect",
    path=CELERY,
    line=r"^broker_connection_retry *=.*",
    replace="broker_connection_retry = True",
)
files.line(
    name="Celery workers never give up reconnecting",
    path=CELERY,
    line=r"^broker_connection_max_retries *=.*",
    replace="broker_connection_max_retries = None",
)
