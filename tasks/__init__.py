"""Celery tasks: thin wrappers that take ids, re-read the world and call one service."""
