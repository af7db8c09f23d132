"""remediate: find and fix the config behind lost Celery broker connections."""

__version__ = "0.1.0"
