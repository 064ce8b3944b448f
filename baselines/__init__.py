"""The registered architectures, one file each (SPEC.md §1). Installed as ``mtlbench.baselines``."""
