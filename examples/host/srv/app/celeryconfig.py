"""Celery configuration for the billing workers."""

import os

broker_url = os.environ.get("CELERY_BROKER_URL", "redis://:example-redis-pw@redis-01:6379/0")
result_backend = "redis://:example-redis-pw@redis-01:6379/1"

task_serializer = "json"
accept_content = ["json"]
timezone = "UTC"

# "Fix" for lost connections found on a forum: none of these do what they claim.
broker_heartbeat = 10
broker_connection_retry = False
broker_connection_max_retries = 3
broker_connection_retry_delay = 5
visibility_timeout = 43200

task_acks_late = True
worker_prefetch_multiplier = 1
