"""Approval: policies, deciding on posts, and the timers that expire or remind a pending approval."""
