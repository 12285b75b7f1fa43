"""Alembic migrations for the Chatdeck schema (see README.md here)."""
