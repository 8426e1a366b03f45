"""Recurring posts: a series (its rule) and the runs it has created.

A series hangs off the post that defines it (the *template*): that post is approved once through
the normal workflow and never goes out itself. Each run is a post of its own (author, text, targets
and origin copied from the template), created ahead of its time and recorded in :class:`SeriesRun`.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.posts import Post


class Recurrence(Model):
    """The rule of one series and where it stands.

    ``next_run`` is the next run that has no post yet (None: no more runs); ``remaining`` how many
    run posts may still be created (None: no limit).
    """

    id = fields.IntField(primary_key=True)
    post: fields.OneToOneRelation[Post] = fields.OneToOneField(
        "models.Post", related_name="recurrence", on_delete=fields.CASCADE
    )
    cron = fields.CharField(max_length=64, description="five-field cron line, read in ``timezone``")
    timezone = fields.CharField(max_length=64)
    until = fields.DatetimeField(null=True, description="no runs after this instant")
    remaining = fields.IntField(null=True)
    paused = fields.BooleanField(default=False)
    next_run = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    runs: fields.ReverseRelation[SeriesRun]

    class Meta:
        table = "recurrences"


class SeriesRun(Model):
    """One run of a series and the post that carries it (replaced if the run is re-created)."""

    id = fields.IntField(primary_key=True)
    series: fields.ForeignKeyRelation[Recurrence] = fields.ForeignKeyField(
        "models.Recurrence", related_name="runs", on_delete=fields.CASCADE
    )
    post: fields.OneToOneRelation[Post] = fields.OneToOneField(
        "models.Post", related_name="series_run", on_delete=fields.CASCADE
    )
    run_at = fields.DatetimeField()
    version = fields.IntField(description="the template version the run's text was copied from")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "recurrence_runs"
        unique_together = (("series", "run_at"),)
