"""Prefect flows: thin orchestration over plain functions (never a task per hazard)."""
