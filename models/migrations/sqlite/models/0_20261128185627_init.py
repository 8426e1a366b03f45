from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "members" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "name" VARCHAR(64) NOT NULL UNIQUE /* short handle, e.g. bob */,
    "display_name" VARCHAR(128) NOT NULL,
    "timezone" VARCHAR(64) NOT NULL,
    "created_at" TIMESTAMP NOT NULL
) /* A person on the team. One member may be known to several chats (shell, Slack, Telegram). */;
CREATE TABLE IF NOT EXISTS "chat_identities" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "adapter" VARCHAR(16) NOT NULL,
    "external_id" VARCHAR(128) NOT NULL,
    "member_id" INT NOT NULL REFERENCES "members" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_chat_identi_adapter_061a2a" UNIQUE ("adapter", "external_id")
) /* How a chat adapter names a member: (``slack``, ``U024BE7LH``), (``shell``, ``bob``)… */;
CREATE TABLE IF NOT EXISTS "member_roles" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "role" VARCHAR(64) NOT NULL,
    "granted_at" TIMESTAMP NOT NULL,
    "member_id" INT NOT NULL REFERENCES "members" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_member_role_member__a881fd" UNIQUE ("member_id", "role")
);
CREATE INDEX IF NOT EXISTS "idx_member_role_role_374087" ON "member_roles" ("role");
CREATE TABLE IF NOT EXISTS "social_accounts" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "platform" VARCHAR(32) NOT NULL,
    "handle" VARCHAR(128) NOT NULL UNIQUE /* the name used in --to */,
    "credentials" TEXT,
    "token_expires_at" TIMESTAMP,
    "enabled" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL
) /* One account on one platform, e.g. (``mastodon``, ``herald@fosstodon``). */;
CREATE TABLE IF NOT EXISTS "posts" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "text" TEXT NOT NULL,
    "media" JSON NOT NULL,
    "state" VARCHAR(24) NOT NULL,
    "due_at" TIMESTAMP,
    "version" INT NOT NULL,
    "approval_level" INT NOT NULL /* the level now awaiting decisions */,
    "origin" JSON NOT NULL,
    "approval_ref" JSON,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    "author_id" INT NOT NULL REFERENCES "members" ("id") ON DELETE RESTRICT
) /* A post and where it stands. Its state changes only through :func:`models.lifecycle.advance`. */;
CREATE INDEX IF NOT EXISTS "idx_posts_state_a9dae2" ON "posts" ("state");
CREATE TABLE IF NOT EXISTS "deliveries" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "state" VARCHAR(16) NOT NULL,
    "due_at" TIMESTAMP,
    "attempts" INT NOT NULL,
    "external_id" VARCHAR(255),
    "url" VARCHAR(1024),
    "last_error" TEXT,
    "idempotency_key" VARCHAR(64) NOT NULL,
    "claimed_by" VARCHAR(128),
    "claimed_at" TIMESTAMP,
    "queued_at" TIMESTAMP,
    "published_at" TIMESTAMP,
    "updated_at" TIMESTAMP NOT NULL,
    "account_id" INT NOT NULL REFERENCES "social_accounts" ("id") ON DELETE RESTRICT,
    "post_id" INT NOT NULL REFERENCES "posts" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_deliveries_post_id_6a0490" UNIQUE ("post_id", "account_id")
) /* One post on one account: the unit the dispatcher enqueues and a worker publishes. */;
CREATE INDEX IF NOT EXISTS "idx_deliveries_state_efa7fc" ON "deliveries" ("state", "due_at");
CREATE TABLE IF NOT EXISTS "approval_decisions" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "version" INT NOT NULL,
    "level" INT NOT NULL,
    "decision" VARCHAR(24) NOT NULL,
    "reason" TEXT,
    "created_at" TIMESTAMP NOT NULL,
    "approver_id" INT NOT NULL REFERENCES "members" ("id") ON DELETE RESTRICT,
    "post_id" INT NOT NULL REFERENCES "posts" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_approval_de_post_id_24ce86" UNIQUE ("post_id", "version", "level", "approver_id")
) /* One member's decision at one level on one version. */;
CREATE TABLE IF NOT EXISTS "audit_log" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "post_id" INT,
    "action" VARCHAR(48) NOT NULL,
    "state" VARCHAR(24) /* the post's state after the action */,
    "version" INT,
    "detail" JSON NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "actor_id" INT REFERENCES "members" ("id") ON DELETE RESTRICT
) /* One thing that happened. Rows are only ever inserted; the database refuses changes too */;
CREATE INDEX IF NOT EXISTS "idx_audit_log_post_id_28a38b" ON "audit_log" ("post_id");
CREATE TABLE IF NOT EXISTS "outbox" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "adapter" VARCHAR(16) NOT NULL,
    "channel" VARCHAR(128) NOT NULL,
    "thread" VARCHAR(128),
    "post_id" INT,
    "payload" JSON NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "delivered_at" TIMESTAMP
);
CREATE INDEX IF NOT EXISTS "idx_outbox_adapter_dc9c08" ON "outbox" ("adapter", "channel", "delivered_at");
CREATE TABLE IF NOT EXISTS "aerich" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSON NOT NULL
);

-- The audit log is append-only, enforced by the database itself.
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON "audit_log"
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON "audit_log"
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        """


MODELS_STATE = (
    "eJztXf9T2zgW/1c0+aUwkzIQKHC9m5sLlG655UsP0rudLTuOYiuJBlvyygoht9f//Z5kO7"
    "EdO9iAg+P1TKckkp4kf96z9L5J+aPlcIvY3s7pGMtzizBJ5az1Ef3RYtgh8CG1vo1a2HUX"
    "tapA4oGtCUxoaVC/KSW6Dg88KbApoXqIbY9AkUU8U1BXUs4U0Rc+RRgpUoQt7EoikJqAB4"
    "UOcQZEfERb/b5nY/O+32+jfv/bbufg5Ozo4ku/v93WdWNi237dgA+g9G7S2e0cquEtbsL4"
    "lI1KH2nC6O8TYkg+InJMBIz3/XsrGEbVk0f4wLAN+LR++w0KKLPII4AEDdVX994YUmJbMQ"
    "5AW6jS5YacubrsnMnPuqF6vIFhcnvisEVjdybHnM1bUyZV6YgwIrAkqnspJooNbGLbAeNC"
    "zvjPsGjiTzFCY5EhntiKmYran8CirGUYV9c94/asZxitJUaHFBGOBEUmZ0pIYKqefvqRms"
    "L7zt7B0cHx/uHBMTTR05yXHP3wh14A4xNqeK56rR+6Hkvst9AYL0CNMCWOLAi6SIc2QpLA"
    "FyaexDdEcxXAYcEC4cXbsQ6IHfxo2ISN5Bi+7h2uwPPf3ZvTL92brb3DbTUgh5fZf9mvgp"
    "qOrlKQLyCOCnsBmBNkdYS6c5wH685xNtiqLo62v3ilYp25WMRonl4zNgHoV1g21EI8vE9d"
    "NXzAlhH+zAWhI/YzmWmgz2FOmJkkBdZgO72cd7RhAP8IZSgsXewLAk/nu1dctOD54amJ9N"
    "/87u1p99NZS+M8gG12ioVlxABXNbzDEyXztstVTsdJlmCGRxoe9Rxq1nHkU1ScBU+ylRv/"
    "sXIqNV3kQlvOEPwDdQBJgp0ddM1IoGkgB8/QgKB7xqfQgiOPPIAs2Fo78dCWVjTa6FbpIm"
    "3UAwRHAjvbO0s6TZkDpag0jeLyhoqL/ltgOw3bv84+Wga0LW/MhURjzCwb+iI7ox0EinVS"
    "yvPsrIcHOTbWw4PMfVVVxbdVi3qujWdGUdiTdI0ak0+NkdQh/+WsENZRmvXh3PrWO22tBe"
    "jXl2pTEIWGgeUyzp+gRiGajnWcMoG2FZDuhB82UcbhAa1rZs+CxW0F9L3zy7PbXvfyqxrO"
    "8bzfbY1ft3emajq6dJYo3UpaUPNO0H/Oe1+Q+op+vb460/ByT46EHnHRrvdrS80JTyQ3YD"
    "83sBVZh8PSELVlZTZb64pu3FHvTVw8TgLazz/fEBtrdDO13KTTaMNEIUvXjb1KgtsvhclX"
    "PG+go7qCpAT5hSB9hS7qCo9FTOpBxy+EqOu6gj9g+1PQXZ3gKt8k1O9fplkYvp1PmYbGfD"
    "140j7MBiXVjbzwPaghGvfxm1phIhCHvCpq2L4s9XSt2JasnI4EZs9TTuOUjXJadeW08V83"
    "/uuKKBjtTfFf33KTYrtrmnyiJ7+kr8QbrFRZPN3UwH7bnF5t5VYOKJB2ORPkgmY65MIJnH"
    "db/b6DPcktzvww+Vg5m61/DLkXlqY4sV+p3zt2B39NQbTdCY/Q7yOqovv/vL2+QjDixIEK"
    "tCX5PWFeG7kAM6IWfBpgj6BvNxfb6J64EhFmipkLgo2wRLDOycYdXkFFLBSRIspYlKaGft"
    "n9Tg6NbL+TqZGpqrhG5rvmi0C8oKhw3EGFytQjookHbzll6P17yZ8TdijFEx5ZwpaRPwsX"
    "px55zFhBEvTP4kOAclXkfJW6e/ZLL6bphthuXXZ/2Y5puxfXVz+FzSO8OL24PkkGI9QeYZ"
    "BHl8L6/wx7JI3+FaySDeJKhYyQEJOVVghhCuOUjfqEgwWPWUbK0oIqwd4BkJW1oYRL4HpZ"
    "enJ9fRHj5sl58k36dnlyBsudZiM0or7eHO7lTRTqz2foPysKBeYKfSDixVGoT34/tYpAlW"
    "lhzvFKMS6jWGbblXHO5TMplZSFdl9gBn7UyUzAC6k/qJQKLE2wusA2A/ZMVNI2A/MMTbm4"
    "h1J3MrCpNyZeunH5qiMoM7O7VAx92zOEhyqr3OEPMLjuV/ApGgrugMmqe7XAJpUcvgWE0E"
    "5ZqXpqdwy4bVEFDbbRt6/qlQVrFXoxbUyd7TbyOExIKXcaZNBcuUDWxLWpqQQb6RGQQzxP"
    "WbYWh1kxLtUYWQbsd/2Ka1YFXoNkcOE76IvQuYYViHHQojFz12XmzuHPa4DNCdaYEDPFIL"
    "YAUlkYl5yvHkh2QVVkQdVo9lXW7LGUxHHTshAyF6coyfqiC7uVXqIqcbyjYq9JfGHqfPiQ"
    "Y2WCVplLk66Lgz0RdhGQg+b1A3dvt5Mn3qyaZa/8ujKOr409aRAheEpwLNvFFqeqA9rr9r"
    "BRC1ZYLgkzZ8Y9mRWR8RTSGjrzS8j9VWYEsYxBIbTjVHUQ9XW48APQnuHgilE2mmWVNUvf"
    "pH8Gk2OEDY+rzOPQw/McNidpG05XmdMT13pmUCJO2QQlKsz2pQz8wPFZLP0wTtTkH6Y4CR"
    "SbioEaoWgQfTqjM/TcvzCfs2ana9qJbM6IUKXncqasBa+A6lIqZk3hjS+EMYRvYGW+OT/t"
    "vVW6rBbslEBmKPDZQcz5mbVcFz2o2KIKFU7HRBBEJVKyYXk76Fx6SAdj1GULbBTGCOVY8M"
    "lojD4OJ8z82A9mZdMhMWew/e1g60HJVj/1sofSBvOTZ7mgI8r8vFl/CB0cFXgokany5XQs"
    "cyu4D6mtx2IE5AfGAQ3BD1HC3gyy6CEM5IK4XKjYpOLpHQNB4rpLT3UG0vVAhKeD+Duo38"
    "fBKTZDkKE/B9U0GOydh6iF+NAvC1qGwU49LpV3zMRMXXdBLCr9xD7XxiZp8ncrGNiU5DFl"
    "pc12uYbta+HqW7e31YE3Ai+jrTLjsw7YBARJa4aaEv0PgVlb2rbW+ptarBSiaDChtqRMrV"
    "ie/HtZ4eUVzFAArWZGEveEhaI6SDKjeiH9pXWlpdf8sgBPhM3yOLpXRHWWYzpNPL/Ofhql"
    "MwRpfzm35AjF+izLvUrvyxGjJ9S6bPJAUmLN2U6QJcLKgqsPfOhpIqZugQ3ylVDs+oX1Q+"
    "+r20W25QVFNfZlNWxt9uWo/VGEKUm6F7FmczaOUnjQnAzIXn020wmf5wqAJvRSN67nCr1M"
    "gFsFL36I0TRhgqfDBD5gr+DSrv3FDzHRKuzKbk4vNXefbdRhryXcUmIladhmx03menCMs/"
    "kOgfm3rrzz5iaZuntDndfyrbbg8FZgyKef8irWhQp49PwjYCAD6J7MkIPv9a+BCOJqVRKZ"
    "NjXv0TzdVCJsCu55+k4QLKTnHyLziDq3hcAcIkLCM1Jbnx27Y/roFrZtIuC7N4WB0ZTKsR"
    "9Tmc/RVhv8TE1PQEfCevqsVsSdMTe9feyhZXM73FsGNTbEN1V5hCP5+QW9Um/gjNogNK3I"
    "Qp43+hClqUXwrezwAyzoXhrE2bHNBUUd8uvXHdxsfEbZor6Z3oM8PqNQ4ynoP4hTNZtEk7"
    "rZpG5Ww9ptvyh1M7R/Xg5r/R1d8TWwUlmb3YlF5RmT6ZfQRGrbKz0Rqp1h81F+B4S+JwX+"
    "x+r3iFwXOG/toBs+9fMYdTKl+umswMwn1l99Mx4MQX17qCDDiUe8efal5Ev3CZY0zB3bgh"
    "FGI+VeoP6vgDl0JLTXzPMzMqFHhrD+naX3U0GlhK+3/7oI75gxMXunLjpVVQSNqSe5mJWR"
    "M3lCR38WD8NfOp39/aPO7v7h8YeDo6MPx7vzPWS5atVmcnL+k9pPYlpWjstR176FP22DbJ"
    "6fJ3oyQBa0mhcUNbSZD/IcmT7IPjF9sHRges05keuxmHXakXqx3oXJ+f4FYTqFfS4fb++w"
    "WL/XsmIei9d3s0lMU7yW2TlEC4omsWu1g6hJKmocRPkcRKYsnF0SIWnWtadzSxRc67S4Kw"
    "Zv/lOS8vmJJWVa29cTOeCPl/4hulaKwR1v0F5lc3PdNJfBnQ3w0wbn91ZwIFCNFJw/9FkY"
    "XIpa/I7Sxixdl1kaYV1uO2pBUkND6vXvMo28EnkhjpDUEeJSfqxan3cuAvKCosIGa5Ugrq"
    "ILa+OUtxigeGbzNKHNtkojJOs3S5tTLY0ButEGaEwlLcj3JG1zJLk6B1l8Ti/ZxW8UMCWC"
    "muNWWrDUr2mvDJQu2pRptDVJyJVIQs7WTrP9+XUwAUq5mF29VAUQDprXEN293d082v/u7o"
    "p72XeXzFjO1ImLIspqhKRRVgsqq2+6mf34Pyp8CLU="
)
