"""The registered task suites, one file each (docs/protocol.md §3). Installed as ``mtlbench.tasks``."""
