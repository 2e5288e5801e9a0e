"""Queueing the app's Celery tasks from its services without importing the task module (which
imports the services): tasks are looked up by their registered name."""

from __future__ import annotations

from celery import Task, current_app


def queued_task(name: str) -> Task:
    """The registered task called `name` (PlaybooksConfig.ready() imports playbooks.tasks, so
    it is registered in every process, eager or not)."""
    return current_app.tasks[name]
