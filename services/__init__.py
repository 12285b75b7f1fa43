"""What pages and HTTP handlers call: use cases and typed, frozen view values.

A page (views/) reads query params and session state, calls a function here, and draws what it returns;
it never opens a database session or imports ``storage``. Each module here opens its own sessions through
``storage``'s repository functions and returns plain values built from stored rows or live runs.
"""
