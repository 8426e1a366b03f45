"""Text: how platforms count and limit a post, and splitting a typed command into options."""
