"""The leaderboard markdown, one module per section (``document.render_markdown`` puts them in order)."""
from __future__ import annotations

from .document import render_markdown

__all__ = ["render_markdown"]
