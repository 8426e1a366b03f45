"""When posts go out: typed times, posting slots, recurring series and their cron rules, and
releasing due deliveries."""
