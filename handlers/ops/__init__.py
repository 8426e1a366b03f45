"""Operations: /queue status, /queue metrics and /cron, for the people who run Herald."""
