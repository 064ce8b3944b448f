"""Experiments that reproduce a paper's own protocol, apart from the leaderboard's runs (docs/protocol.md §6)."""
