"""Drafting: writing, editing and looking at posts, and the neutral views of them (cards, summaries, Home)."""
