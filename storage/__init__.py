"""Chatdeck's storage: the only code that talks to the database.

- ``storage.models``: the tables (users, conversations, messages, backend_states).
- ``storage.db``: the database URL, engines (migrated to head on creation) and ``session()``.
- ``storage.repository``: every read and write, as plain functions taking a session and an owner id.
- ``storage.migrations``: Alembic migrations; see its README.md for adding one.
"""
