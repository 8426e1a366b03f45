from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "timers" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "kind" VARCHAR(32) NOT NULL,
    "post_id" INT NOT NULL,
    "version" INT NOT NULL /* the post version the timer was set for; stale versions are ignored */,
    "level" INT,
    "run_at" TIMESTAMP NOT NULL,
    "fired_at" TIMESTAMP,
    "data" JSON NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx_timers_post_id_cc13b8" ON "timers" ("post_id");
CREATE INDEX IF NOT EXISTS "idx_timers_fired_a_c8984e" ON "timers" ("fired_at", "run_at");
        CREATE TABLE IF NOT EXISTS "approval_policies" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "levels" JSON NOT NULL,
    "direct" JSON NOT NULL,
    "remind_after_seconds" INT NOT NULL,
    "remind_before_seconds" INT NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    "account_id" INT UNIQUE REFERENCES "social_accounts" ("id") ON DELETE CASCADE
) /* ``levels`` is a list of 1 to 3 ``{"members": [...], "roles": [...], "mode": "any"|"all"}``; */;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "approval_policies";
        DROP TABLE IF EXISTS "timers";"""


MODELS_STATE = (
    "eJztXW1v2zgS/iuEvzQF3CBx0rTXHg6XtNltbtuml7h3i60XMi3RthCJ9FJ0HF+3//1mKM"
    "l6seRIie3IWgFFk5AcUXqGIueZGVLfW66wmOPtvxtTdWExrmw1b70h31ucugx+yaxvkxad"
    "TKJaLFB04GgBE1oatt/UZrqODjwlqamgekgdj0GRxTxT2hNlC45CH8SMUIKihFp0opgkeA"
    "MeFLrMHTD5huz1+55DzZt+v036/a8HneOz81cfP/T7z9u6bswcx68biAGU9qadg84Jdm8J"
    "E/q3+WjjPU25/ceUGUqMmBozCf19+9YKusF6dge/cOoAPq3ff4cCm1vsDkCChvjn5MYY2s"
    "yxEhqAtlClyw01n+iyC65+0g3x8QaGKZypy6PGk7kaC75obXOFpSPGmaSK4eWVnKIa+NRx"
    "AsWFmvGfIWri32JMxmJDOnVQmSjt30BU1jKMz5dd4/q8axitJUWHEjGNBEWm4DhI4FY9/f"
    "QjvIUXncPjV8evj06OX0MTfZuLklc//K4jYHxBDc/nbuuHrqeK+i00xhGoMaUkkYWBLrOh"
    "jYmk8IUbT+MborkK4LAgQjh6O7YBsUvvDIfxkRrDn4cnK/D8z+nVuw+nV3uHJ8+xQwEvs/"
    "+yfw5qOroKIY8gjg/2EjCnxOoIded1Eaw7r/PBxrok2v7klYl17mSRkLl/ztgFoNcwbeBE"
    "PLzJnDV8wJYR/klIZo/4L2yugb6Ae6LcZBmwBsvpp8WFdgzgH+EYCkujdUHS2WL1Sg4teH"
    "54aqb8N//0+t3p+/OWxnkAy+yMSstIAI41oiNSJYu2y1Vux02XUE5HGh58DrzrJPIZJk6k"
    "k3zjxn+sgkbNKZlAW8EJ/ANzgChG3X1yyVlgaRCXzsmAkRsuZtBCEI/dwlhwtHXikT1taL"
    "TJNdoibdIFBEeSus/3l2yaTXaUYdI0hssTGi76Z4nlNGy/nnV0E9C2vLGQiowptxy4Ftsf"
    "7RMwrNOjvMjKenJcYGE9Oc5dV7Equaxatjdx6NwoC3tarjFjipkxynbZ/wQvhXVcZns4t7"
    "5237W2AvT6R7UpGaJhULWM83uoQUSzsU5KptC2AtH98JddHOPwgNYld+bB5LYC+u7Fp/Pr"
    "7umnL9id63l/OBq/0+451nR06TxVupdmUIuLkP9edD8Q/JP8dvn5XMMrPDWSuseoXfe3Ft"
    "4TnSphwHpuUCs2D4elIWrLxmy+1RVfuOPem+TwOAtkf/rlijlUo5tr5aadRjs2FPJs3cSr"
    "JIXzWJh8w/MKLlRXkHAgPxKkL3CJusJjMdP24MKPhOh0MpHiljrvg8vVCa7NU0L9/uXSwv"
    "DtvI8aGov54F5+mA9Kphs58j1gF437+ElZmAyGQ1ETNWy/KfN0q9hu2DgdScofZpwmJRvj"
    "tOrGaeO/bvzXFTEw2rviv74Wpk2dU9MUU33zS/ZKssFKk8XTTQ3qty3o1Ua3ciBBtMuZkQ"
    "lYpkMh3cB5t9fvu9RTwhLcD5OP0dls/XMovLA0w4m9puv2eA9+mpJp3gmP0O8TG6P7/7q+"
    "/Eygx6kLFWRPiRvGvTaZAMzEtuC3AfUY+Xr18Tm5YRNFGDflfAIDm1BFYJ5TjTu8goZYOE"
    "TKGGNxmRr6ZY86BSyyo06uRYZVSYvMd82XgTiSqHDcAUNl+Ihk6sFbbnPy4oUSDwk7bMQT"
    "HpvClpE/DyenLrvLmUFS8g/SQ4ByVcb5KnP3/NduwtINsd37dPrr84S1+/Hy889h85gu3n"
    "28PEsHI3CNMNjdxIb5/wF8JEt+Daxkh7RSIRISYrKShTCOGGcs1GcCGDzlOSlLkVRKvQMQ"
    "29SCEk6B21Xp2eXlx4Q2zy7Sb9LXT2fnMN1pNUIj27ebw7W8iUL99Yj+g6JQQFfsWyYfHY"
    "V671+nVhGoUgwzHodxbHOeDydwsK6A/4rHGr4srriTi1Y2siXo+GJwZTDx+MDLJ+HJYV6M"
    "f+MrGZLkgDO/0ZlfAK/Sv2D+CVUmUFQgsoD4FDPcOXBZMhPyBkon04Fje2PmZTPxtfaAnP"
    "x0qRiu7cwJHWIKvituoXN9XSlmZCiFC/xeX9UCAq8E/BUIQjuk9PrWehwUaNkIDXXI1y84"
    "vwG1h6uYDrXd523iCbghtIQ1yGDmC0ms6QQGLQ5VonsgLvM8dANYAu6KC4V95LH9b3o+1K"
    "oKXCzpSMw3MK7h4hpWEKZBi8YnsC2fwAL+omx1IbDF7KEZhWELIG0K4w0n9wcju6TdFkk1"
    "NKjKNIgqxdxJVspG7uQUF9leKOag0lNUJfbCVOw1SU5MnZcvC8xM0Cp3atJ1SbCn0ikDct"
    "C8fuAeHnSKBOexWf7MryuT+DrUUwaTUmREEvP9kUmpOqC9bXekbcEMKxTj5ty4YRk0Ln+M"
    "Z4jWMPKxgURppBHMMgal0E5K1WGobyPeEYD2AG9gQrKxLKtsWfqU/gFKTgg2Oq6yjkMPz0"
    "PUnJZtNF1lTU8n1gMjOEnJJoJTYbUvbVcIHJ/lcjWTQk2yZoaTANVUDtSYRIPo/emvoef+"
    "kcmvNduK1E6lvsYGVXbia8ZcsAZUl/JWawpvciJMIHwFM/PVxbvuU+UW64GdEcgMB3x+EH"
    "Oxwa/QqRgYW8RQ4WzMJCO2Ijg2LG+fXCiP6GAMnkzBR2GMUI2lmI7G5M1wys03/eCuHHvI"
    "zDksf/vUusWx1c88GWNjnfmZxkLaI5v7ScZ+Fzo4KulQEROTC3Uscy84PKqt++IMxg/0Ax"
    "aCH6KEtRnGokcoiEs2ERJjk6jTHoeBJPQlPbwYjK5bJj0dnN8n/T4NwvCGZEP/HrBp0Nkz"
    "j9gWEUO/LGgZBjt1v7bqcZNyPBuEWbbysyAnDjVZk+xcwcCmYncZM22+yzVsXwtX37a9rS"
    "68EXQZbdxGkLcbKRBIsxnbVORPArR2Y8ta6+84WSGiZDC1HWVznLE89Y9NhZdXKAMBWq2M"
    "NO4phoIXSCujeiH9pXmlpef8TQGeCpsVcXSviOosx3SaeH6d/TRoMwTpfAWX5JjE9pjlYa"
    "XX5RjpCa0uh92yjFhzvhNkSbCy4OrdMfo2Cccjc4N8JZI4q2L70PvmdpllOZKoxrqM3dZm"
    "XY7zjzJKScs9SjW7s3BsRAfNNor82Wc3nfBFzktoQi9103qh0MsUtFXylIyETBMmuD9M4A"
    "O2Bpd27U/JSAyt0q7sZqtXc1DcTh0Ut4RbRqwkC9v8uMnCDk5ottgmMP+ImmfegpLhQSW4"
    "X8tnbcHmrYDIZ+/yKncJDHh0/S1gMAbIDZsTl97oT6dINtGmJDEd27whi3RTRagphefpA1"
    "SoVJ6/icxjuG+LAB1iUsEz2o7eO9bjeusWdRwm4W9vBh2Tma3GfkxlcY8OLvBzvD0JF5LW"
    "/Xu1Yu6MBfX2sYeWzVF6TxnU2BHfVOURjuXnl/RKPYEzaofQtGITedHoQ1ymFsG3TYcfYE"
    "L3siDOj21GEnXIr992cLPxGeUP9d30HhTxGYUWT0n/QVKqWSSa1M0mdbMabLf9qNTNkP88"
    "Htb6O7qSc2ClsjZPp5atzrnKPoQmVtte6YnAdoYjRsUdEPqcFPif4sebJhPQvLVPrsTMz2"
    "PUyZT4nbGA5jPrrU/jgQjqo1YlG0495i2yL5VYOnxxQ930+B70MBqhe8H2P5nm2iOpvWae"
    "n5EJV+SE6o9SvZhJWyn48/rfH8MzZkzKn+GpsFjFyNj2lJDzTeRMntmjv4qH4W+dztHRq8"
    "7B0cnrl8evXr18fbBYQ5arVi0mZxc/43qSsLIKnCS79SX8fg6ye36e+M4AVZI1RxI15MzH"
    "RbZMH+fvmD5e2jC95ZzI7TBmnXaEL9azMDnfPyBMp7AvxsfTOyy277WsmMdi/W42Re0Mr2"
    "V+DlEk0SR2rXYQNUlFjYOomIPIVKWzS2Iizbx2f24JwrVNxl0xeIvvklQPTyzZJNu+nKqB"
    "uPvkb6JrZRDuZIP2Ks4tdNNChDsf4PsJ57dWsCEQewr2H/oqDA5FLX9GaUNLt0VLY6orzK"
    "MikRoSqfWfZRp7JYpCHBOpI8Qb+bK33u9cBuRIosKEtUoQV9GFtXPGWwJQOndE1qDNZ6Ux"
    "ke3T0mZXS0NAd5qAJkzSknpPyzZbkquzkcXX9BIvfqKAafLbJSuSuKOvmxRI4dYfVyn8GY"
    "9+X6ddLj5PicsCntVyiB+7OCL9/vde8BFSr4dPtL+/Dw/V01+STpbgPWFBr0X5vNf6E346"
    "Tq/1o99/uxRP3UqveCyOZUtmKr+bglcF0TdkNhbEpfPwKyE6+xto8uL4muZcmgqmcPtjqo"
    "yVFEk0RtIjjCT/LSsVNFlINEGTtatDMhee39ARS8Pf41LmExp54ls8I+L4+GBXPqkRoDVg"
    "QyHZw9Felt8e3EcnO4N2s908H+rdpGMZVnplTvpN866dt54exXwKnLYafrixYPSw7Fmrld"
    "JH8RBi7kGri3zo9ZHKLkxespXBJf2K9ioKiROfLMYbHxcHHNqRe0ROeRP3q27c7wYevkyw"
    "JGxfw3DUUadAqOSokxspwaqnDpQUQHjX1rQdPGDwEfmo4SkIOhNVT9hkRj3iMUWAQLzFZF"
    "VncVSCvzXBHnGgFlbaCbcdjWx3E3jFHOVr55r+WrmE5mrmE0nVkPXsLstZjjrFzaIyCo7L"
    "NdGmKmsYzaxSbtKgfeMkXYuTtCqBPyZtc9zKCvj5Ne2Vgb6ozSZZWhO6qsTpQ/lMK99yrQ"
    "PZ2sgXmfGlKoFw0LyG6B4eHBRJ+zs4WPFB5oOl/FXB8ai1MutbTKQJwO7SYvbj/8thVZs="
)
