"""One-off rewrites of committed result files between record schemas (each runnable with ``python -m``)."""
