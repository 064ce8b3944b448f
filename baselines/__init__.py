"""The registered architectures, one file each (docs/protocol.md §1). Installed as ``mtlbench.baselines``."""
