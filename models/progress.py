"""Steps a multi-step publish took (uploaded media ids, a container id, "sent"), so a retry resumes."""

from __future__ import annotations

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model


class PublishStep(Model):
    id = fields.IntField(primary_key=True)
    delivery_id = fields.IntField(db_index=True)
    step = fields.CharField(max_length=64)
    value = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "publish_steps"
        table_description = "steps a multi-step publish took"
        unique_together = (("delivery_id", "step"),)


class StoredProgress:
    """:class:`tasks.platforms.base.Progress` in the database, read on first use (one-step publishes never
    touch the table)."""

    def __init__(self, delivery_id: int) -> None:
        self.delivery_id = delivery_id
        self._steps: dict[str, str] | None = None

    async def _load(self) -> dict[str, str]:
        if self._steps is None:
            rows = await PublishStep.filter(delivery_id=self.delivery_id).values_list("step", "value")
            self._steps = {str(step): str(value) for step, value in rows}
        return self._steps

    async def get(self, step: str) -> str | None:
        return (await self._load()).get(step)

    async def put(self, step: str, value: str) -> None:
        steps = await self._load()
        try:
            await PublishStep.create(delivery_id=self.delivery_id, step=step, value=value)
        except IntegrityError:
            await PublishStep.filter(delivery_id=self.delivery_id, step=step).update(value=value)
        steps[step] = value

    async def clear(self) -> None:
        await PublishStep.filter(delivery_id=self.delivery_id).delete()
        self._steps = {}
