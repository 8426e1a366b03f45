"""Administration: social accounts, members and their roles."""
