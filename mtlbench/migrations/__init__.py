"""One-off rewrites of committed result files between record schemas and file-name rules (each runnable with
``python -m``)."""
