"""The registered task suites, one file each (SPEC.md §3). Installed as ``mtlbench.tasks``."""
