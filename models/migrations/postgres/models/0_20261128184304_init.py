from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "members" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(64) NOT NULL UNIQUE,
    "display_name" VARCHAR(128) NOT NULL,
    "timezone" VARCHAR(64) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON COLUMN "members"."name" IS 'short handle, e.g. bob';
COMMENT ON TABLE "members" IS 'A person on the team. One member may be known to several chats (shell, Slack, Telegram).';
CREATE TABLE IF NOT EXISTS "chat_identities" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "adapter" VARCHAR(16) NOT NULL,
    "external_id" VARCHAR(128) NOT NULL,
    "member_id" INT NOT NULL REFERENCES "members" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_chat_identi_adapter_061a2a" UNIQUE ("adapter", "external_id")
);
COMMENT ON TABLE "chat_identities" IS 'How a chat adapter names a member: (``slack``, ``U024BE7LH``), (``shell``, ``bob``)…';
CREATE TABLE IF NOT EXISTS "member_roles" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "role" VARCHAR(64) NOT NULL,
    "granted_at" TIMESTAMPTZ NOT NULL,
    "member_id" INT NOT NULL REFERENCES "members" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_member_role_member__a881fd" UNIQUE ("member_id", "role")
);
CREATE INDEX IF NOT EXISTS "idx_member_role_role_374087" ON "member_roles" ("role");
CREATE TABLE IF NOT EXISTS "social_accounts" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "platform" VARCHAR(32) NOT NULL,
    "handle" VARCHAR(128) NOT NULL UNIQUE,
    "credentials" TEXT,
    "token_expires_at" TIMESTAMPTZ,
    "enabled" BOOL NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL
);
COMMENT ON COLUMN "social_accounts"."handle" IS 'the name used in --to';
COMMENT ON TABLE "social_accounts" IS 'One account on one platform, e.g. (``mastodon``, ``herald@fosstodon``).';
CREATE TABLE IF NOT EXISTS "posts" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "text" TEXT NOT NULL,
    "media" JSONB NOT NULL,
    "state" VARCHAR(24) NOT NULL,
    "due_at" TIMESTAMPTZ,
    "version" INT NOT NULL,
    "approval_level" INT NOT NULL,
    "origin" JSONB NOT NULL,
    "approval_ref" JSONB,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "author_id" INT NOT NULL REFERENCES "members" ("id") ON DELETE RESTRICT
);
CREATE INDEX IF NOT EXISTS "idx_posts_state_a9dae2" ON "posts" ("state");
COMMENT ON COLUMN "posts"."approval_level" IS 'the level now awaiting decisions';
COMMENT ON TABLE "posts" IS 'A post and where it stands. Its state changes only through :func:`models.lifecycle.advance`.';
CREATE TABLE IF NOT EXISTS "deliveries" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "state" VARCHAR(16) NOT NULL,
    "due_at" TIMESTAMPTZ,
    "attempts" INT NOT NULL,
    "external_id" VARCHAR(255),
    "url" VARCHAR(1024),
    "last_error" TEXT,
    "idempotency_key" VARCHAR(64) NOT NULL,
    "claimed_by" VARCHAR(128),
    "claimed_at" TIMESTAMPTZ,
    "queued_at" TIMESTAMPTZ,
    "published_at" TIMESTAMPTZ,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "account_id" INT NOT NULL REFERENCES "social_accounts" ("id") ON DELETE RESTRICT,
    "post_id" INT NOT NULL REFERENCES "posts" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_deliveries_post_id_6a0490" UNIQUE ("post_id", "account_id")
);
CREATE INDEX IF NOT EXISTS "idx_deliveries_state_efa7fc" ON "deliveries" ("state", "due_at");
COMMENT ON TABLE "deliveries" IS 'One post on one account: the unit the dispatcher enqueues and a worker publishes.';
CREATE TABLE IF NOT EXISTS "approval_decisions" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "version" INT NOT NULL,
    "level" INT NOT NULL,
    "decision" VARCHAR(24) NOT NULL,
    "reason" TEXT,
    "created_at" TIMESTAMPTZ NOT NULL,
    "approver_id" INT NOT NULL REFERENCES "members" ("id") ON DELETE RESTRICT,
    "post_id" INT NOT NULL REFERENCES "posts" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_approval_de_post_id_24ce86" UNIQUE ("post_id", "version", "level", "approver_id")
);
COMMENT ON TABLE "approval_decisions" IS 'One member''s decision at one level on one version.';
CREATE TABLE IF NOT EXISTS "audit_log" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "post_id" INT,
    "action" VARCHAR(48) NOT NULL,
    "state" VARCHAR(24),
    "version" INT,
    "detail" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "actor_id" INT REFERENCES "members" ("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "idx_audit_log_post_id_28a38b" ON "audit_log" ("post_id");
COMMENT ON COLUMN "audit_log"."state" IS 'the post''s state after the action';
CREATE TABLE IF NOT EXISTS "outbox" (
    "id" BIGSERIAL NOT NULL PRIMARY KEY,
    "adapter" VARCHAR(16) NOT NULL,
    "channel" VARCHAR(128) NOT NULL,
    "thread" VARCHAR(128),
    "post_id" INT,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "delivered_at" TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS "idx_outbox_adapter_dc9c08" ON "outbox" ("adapter", "channel", "delivered_at");
CREATE TABLE IF NOT EXISTS "aerich" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSONB NOT NULL
);"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        """


MODELS_STATE = (
    "eJztXXtP4zoW/ypW/xmQOqgUBli0Wm1hmDvs5TGCsnt1h6vUTdw2IrFzHRfo3p3vvsdO0j"
    "yalATakGYijQTYPrbzO/bxednzV8tmBrHcndMJFucGocIUs9Yx+qtFsU3gl9T6Nmphxwlr"
    "ZYHAQ0sR6NBSM72mJlF1eOgKjnUB1SNsuQSKDOLq3HSEyagk+sqeEEaSFGEDO4JwJCfgQq"
    "FN7CHhx2hrMHAtrD8MBm00GNx1uvsnZ4cXXweD7baqmxDL8uqGbAil99Nup3sghzeYDuOb"
    "dLz2kabU/HNKNMHGREwIh/G+f2/5w8h68gy/UGwBPq0//oACkxrkGUCChvJP50EbmcQyYh"
    "yAtlClyjUxc1TZORVfVEP5eUNNZ9bUpmFjZyYmjM5bm1TI0jGhhGNBZPeCTyUb6NSyfMYF"
    "nPG+IWziTTFCY5ARnlqSmZLam0BY1tK0q+u+dnvW17TWAqMDighH/CKdUblIYKqu+vqxnM"
    "LH7u7+4f7R3sH+ETRR05yXHP7whg6B8QgVPFf91g9VjwX2WiiMQ1AjTIkjCwudp0MbIUng"
    "CxNP4huguQzgoCBEONwdZUBs42fNInQsJvDn7sESPP/duzn92rvZ2j3YlgMy2MzeZr/ya7"
    "qqSkIeQhxd7AVgTpDVEeruUR6su0fZYMu6ONqe8ErFOlNYxGhelhmbAPQKxIYUxKOHVKnh"
    "AbaI8BfGiTmmv5KZAvoc5oSpTlJg9Y/Ty3lHGwbwj2ANBaXhucDx0/z0ii8t+H74aiK8nd"
    "+7Pe19PmspnIdwzD5hbmgxwGUN67JEybztYpXdtZMlmOKxgkd+h5x1HPkUFSfkSbZy431W"
    "TqWmhxxoyyiCf6AOIEGwvYOuKfE1DWTjGRoS9EDZE7RgyCWPsBYspZ24aEspGm10K3WRNu"
    "oDgmOO7e2dBZ1mnQOlqDSN4vKOiov6WeA4Ddqv5hxdB7Qtd8K4QBNMDQv6IjvjHQSKdXKV"
    "5zlZD/ZzHKwH+5nnqqyKH6uG6ToWnmlFYU/SNWpMPjVGmDb5L6OFsI7SlIdz665/2ioF6N"
    "Wvap0TiYaGxSLOn6FGIpqOdZwygbbhk+4Ev2ziGocPNK6pNfOF2xLo++eXZ7f93uU3OZzt"
    "un9aCr9e/0zWdFXpLFG6lbSg5p2g/5z3vyL5J/r9+upMwctcMeZqxLBd//eWnBOeCqbBea"
    "5hIyKHg9IAtUVlNlvrih7cUe9NfHmc+LRffr0hFlboZmq5SafRhi2FLF03tpU4s94Kk6d4"
    "3kBHdQVJLuQ3gvQNuqgrPAbRTRc6fiNEPcfh7BFbn/3u6gTX+k1Ctf8yzcJgd75kGmpzef"
    "CifZgNSqobOfQ9yCEa9/G7WmHcXw55VdSg/brU01KxXbNyOuaYvk45jVM2ymnVldPGf934"
    "ryuiYLQ3xX99y3QTWz1dZ1M1+QV9Jd5gqcriqqYa9trm9GpLt7JPgZTLmSAHNNMR47bvvN"
    "saDGzsCmYw6oXJJ9LZbPxzxNygNMWJvaJ+7+k9/NQ5UXYnfMJggEwZ3f/X7fUVghGnNlSg"
    "LcEeCHXbyAGYkWnAb0PsEnR3c7GNHogjEKE6nzmwsBEWCOScaNzhFVTEgiVSRBmL0tTQL7"
    "vXzaGR7XUzNTJZFdfIPNd8EYhDigrHHWSoTH4imrqwy02KPn4U7DVhh7V4wiMibBH5s0A4"
    "9clzhgRJ0L+KDz7KVVnny9Tds9/6MU03wHbrsvfbdkzbvbi++iVoHuHF6cX1STIYIc8IjT"
    "w7Jsj/V9gjafQrsEo2iCsVMkICTJZaIYRKjFMO6hMGFjymGSlLIVWCvUMgW9eBEojAcll6"
    "cn19EePmyXlyJ91dnpyBuFNshEampzcHZ3kThfr5DP1XRaHAXDEfCX9zFOqz10+tIlDrtD"
    "DneKUYl1Ess+3KOOfymZRylQV2n28GHqtkJuCFUL/IlAosdLC6wDYD9kxl0jYF8ww9Mf4A"
    "pc50aJnuhLjpxuVKR5BmZm+hGPq2ZgiPZFa5zR5hcNUvZ09oxJkNJqvq1QCbVDD4yyeEdt"
    "JKVVO7p8Btw5TQYAvdfZNbFqxV6EW3sGlvt5HLYEJSuVMgg+bKODKmjmXqcmEjNQKyietK"
    "y9ZgMCvKhBwjy4D9rra4YpXvNUgGF76DvgidK1iBGPstGjO3LDN3Dn9eA2xOUGJCzBOGZQ"
    "sgrQvjNeer+yu7oCoSUjWafZU1eywEsZ20LIRM4RQlKS+60Km0iKrE9Y6KbZO4YOp++pRD"
    "MkGrTNGk6uJgT7lVBGS/ef3A3e1088SbZbNsya8q4/ha2BUa4ZylBMeyXWxxqjqgXbaHzT"
    "RAwjJBqD7THsisyBpPIa2hM38Nub/SjCCGNiyEdpyqDku9DBe+D9orHFwxykazrLJm6Zn0"
    "r2ByjLDhcZV5HHh4XsPmJG3D6SpzeuoYrwxKxCmboESF2b6Qge87PoulH8aJmvzDFCeBZF"
    "MxUCMUDaIvZ3QGnvs35nPW7HZNO5HNGVlU6bmcKbJgBagupGLWFN64IIwhfAOS+eb8tP9e"
    "6bJqYacEMoMFnx3EnN9Zy/XQg4wtylDh04RwgkyB5Now3B10LlykgjHysQU6DmKEYsLZdD"
    "xBx6Mp1Y8H/qwsc0T0GRx/O9h4lGtrkPrYw9oG85JnGTfHJvXyZr0hVHCU45FAusyXU7HM"
    "Lf89pLYaixJYPzAOaAheiBLOZliLLsJAzonDuIxNSp7eU1hITHXpys5gdT0S7qog/g4aDL"
    "B/i03jZOTNQTb1B/vgItNAbOSV+S2DYKca1xT3VMdUPndBDFN4iX2OhXXS5O9WMLApyHOK"
    "pM12uQbta+HqK9vbasOOwItoy8z4rAs2PkHSmjF1gf6HwKxd27HW+rsUVhJRNJyaljCplF"
    "iu+Me6wstLmCEBWs6MJO4JC0V2kGRG9UL6C3KlpWT+ugBPhM3yOLqXRHUWYzpNPL/Ofhqp"
    "M/hpfzmP5AhFeZblbqXP5YjRE2hdFnkkKbHmbCfIAmFlwVUXPtQ0EZWvwPr5Sij2/EL50H"
    "vqdpFjOaSoxrksh63NuRy1P4owJUn3JtZszsGxFh40NwOypc9mOuHzPAHQhF7qxvVcoZcp"
    "cKvgww8xmiZM8HKYwANsBS7t2j/8EFtahV3Zze2l5u2zjbrstYBbSqwkDdvsuMlcD45xNt"
    "8lMO/VlQ/u3CSTb2/I+1qe1eZf3vIN+fRbXsW6kAGPvncFDNYAeiAzZOMH9b+BcOIoVRLp"
    "lqk/oHm6qUBY58x11ZsgmAvXu0TmEnlvC4E5RLiAbzQtdXfsnqqrW9iyCIe/3ScYGD2ZYu"
    "LFVOZztOQBP5PT49ARN16+qxVxZ8xNbw97aNm8DveeQY0N8U1VHuFIfn5Br9Q7OKM2CE0j"
    "IsjzRh+iNLUIvq07/AAC3U2DODu2GVLUIb++7OBm4zPKXuqb6T3I4zMKNJ6C/oM4VXNINK"
    "mbTepmNazd9ptSNwP75+2w1t/RFZeBlcra7E0NU5xRkf4ITaS2vdQTIdtpFhvnckBkA7zi"
    "nMETc/yzWNh/63b39g67nb2Do0/7h4efjjpzGbpYtUyYnpz/IuVpTMvI8Tho6UfYyzr45v"
    "k5opnxoqDVGFLU0Gbcz3NleD/7xvD+woXhknMCy7EYVdqN3FgfguR074EslcI9Xx/vb7CX"
    "77WrmMW+ejeTwGaK1y47hyakaBKbljtImqSaxkGSz0Gii8LZFRGSRq69nFsh4SrT4qwYvP"
    "lvCYr0xAqYALq6u7h4L2vzeiqG7PnSu0TWSjE44w3ay2xOppqu3eD83vIvxMmR/Pt3Hgv9"
    "R0GLv9HZmKVlmaUR1uW2o0KSGhpSq3/LM7Il8kIcIakjxGv5z5rVfd8iIIcUFTZYqwRxFV"
    "1YG6e8xQDFM4ulLdpsqzRCUr5Z+j4R+sYAbQzQWLvXG6AxlbQg35O0zZXc6lzk8Di9YBe/"
    "U8CQcFOftNKChV5Ne2mgMGxTmSjhz2KLlZ+Em62dZvvz62ACrOVhcrmpCiDsN68hurudTh"
    "7tv9NZ8i55Z8GMZVTeOCiirEZIGmW1oLL6rofZj/8Duu6tRA=="
)
