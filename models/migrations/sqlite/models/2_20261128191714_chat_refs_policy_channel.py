from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "chat_message_refs" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "adapter" VARCHAR(16) NOT NULL,
    "channel" VARCHAR(128) NOT NULL,
    "ref" VARCHAR(128) NOT NULL,
    "message_id" VARCHAR(128) NOT NULL /* Slack ts, Telegram message_id … */,
    "thread" VARCHAR(128),
    "updated_at" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_chat_messag_adapter_07a1a0" UNIQUE ("adapter", "channel", "ref")
);
        ALTER TABLE "approval_policies" ADD "channel" JSON;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "approval_policies" DROP COLUMN "channel";
        DROP TABLE IF EXISTS "chat_message_refs";"""


MODELS_STATE = (
    "eJztXXtv2zgS/yqE/2kCuEbiPNprD4dL2uw2t23TS9y7xdYLm5ZoW4gseik6jq/b734zpG"
    "Q9LDlSYiuyVkDRJCSHpH6khvPi6Htjwk1mu613YyovTeZISy4ab8j3hkMnDH5JrG+SBp1O"
    "g1oskHRgKwIDWvYs3dRiqo4OXCmoIaF6SG2XQZHJXENYU2lxB4k+8DmhBEkJNelUMkFwAi"
    "4UTthkwMQbstfvuzY1bvv9Jun3vx60j88vXn380O/vN1XdmNm2rhvwAZR2Z+2D9ikOb3ID"
    "xrec0dZHmjnWHzPWk3zE5JgJGO/bt4Y3DNaze/jFoTbg0/j9dyiwHJPdA0jQEP+c3vaGFr"
    "PNyApAW6hS5T25mKqyS0f+pBri4w16BrdnEydoPF3IMXeWrS1HYumIOUxQybB7KWa4DM7M"
    "tr2F81dGP0PQRE8xRGOyIZ3ZuJhIrScQlDV6vc9Xnd7NRafXa6wstE8RWhGvyOAObhKYqq"
    "uefoRTeNk+PH51/Pro9Pg1NFHTXJa8+qGHDoDRhAqez53GD1VPJdUtFMYBqKFFiSILG10k"
    "QxsiieELE4/j66O5DmC/IEA4eDuKgHhC73s2c0ZyDH8enq7B8z9n1+8+nF3vHZ7u44AcXm"
    "b9sn/2atqqCiEPIA5v9hwwx8iqCHX7dRas26/Twca6KNqaeSVincosIjQP84xdAHoDbAMZ"
    "8fA2kWtowFYR/okLZo2cX9hCAX0Jc6KOwRJg9Y7TT8uOdgzgH/4e8kuDc0HQ+fL0im4teH"
    "54aib1m3928+7s/UVD4TyAY3ZOhdmLAI41vM1jJcu2q1WT9iReQh06UvDgc+Cso8gniDjB"
    "mqQLN/qxMgo1Z2QKbblD4B+IA0QyOmmRK4d5kgaZ0AUZMHLr8Dm04MRld7AXbCWduGRPCR"
    "pNcoOySJN0AMGRoJP91opMs82BEkSaWnB5RsFF/cxxnPrtN3OObgPahjvmQpIxdUwb+mKt"
    "UYuAYB3f5VlO1tPjDAfr6XHquYpV0WPVtNypTRe9vLDH6WoxJpsYI60J+x93cmEdpikO58"
    "bXzrtGIUBvflcbgiEaPSpXcX4PNYhoMtZRyhjapkfa8n/ZxT0OD2heOfbCY25roO9cfrq4"
    "6Zx9+oLDTVz3D1vhd9a5wJq2Kl3ESvfiGtSyE/Lfy84Hgn+S364+Xyh4uStHQo0YtOv81s"
    "A50ZnkPTjPe9QM8WG/1EdtVZhNl7rCB3fYehPdHuce7U+/XDObKnRTpdy40WjHtkKarBt5"
    "lQS3nwqTFjyvoaOqgoQb+YkgfYEuqgqPyQzLhY6fCNHZdCr4HbXfe91VCa7tq4Tq/UtVC/"
    "238yHVsLfkBw/qh+mgJJqRA9sDDlGbj59VCxPedsgqovrttyWeFortloXTkaDO44TTKGUt"
    "nJZdOK3t17X9uiQCRnNX7Nc33LCofWYYfKYmvyKvRBusFVlc1bRHdduMVm00K3sURJmcGZ"
    "mCZDrkYuIZ7/b6/Ql1JTe5o93kYzQ2m/8cctcvTTBib6jfrtOFn4ZgSu+ER+j3iYXe/X/d"
    "XH0mMOJsAhVkT/Jb5rhNMgWYiWXCbwPqMvL1+uM+uWVTSZhjiMUUNjahkgCfk7U5vISCmL"
    "9F8ghjYZoK2mWP2hkksqN2qkSGVVGJTJvm80AcUJTY74CuMnxEMnPhLbcc8vKl5I9xO2zF"
    "Eh5iYavIX/jMqcPuUzhIjP5R6+ChXJZ9vk7cvfi1E5F0fWz3Pp39uh+Rdj9eff7Zbx5ai3"
    "cfr87jzgg8I3rsfmoB/3+EPpJEvwGtZIdWpURKiI/JWi2EOYhxwkF9zkGDp05KyFJAFVve"
    "AZBt60DxWWCxS3p+dfUxsprnl/E36eun8wtgd2oZoZGl5Wb/LK+9UH89Rf9RXihQV6w7Jp"
    "7shXqv+6mUByqXhhn2w9iWsUiHE3SwDof/svsavix73MlDKxnZHOr4cnMlaOLhjZeuhEe3"
    "eTb9G19JX0n2dOY3KvIL4JXqF4w/odIAFRUUWUB8hhHuDuiyZM7FLZROZwPbcsfMTdbENz"
    "oC6uRnK8XQt70gdIgh+BN+B4OrfgWfk6HgE9DvVa8mKPCSw18eIbRDlV5NrevAApoWQkNt"
    "8vUL8jdQ7aEXw6bWZL9JXA4TQklYgQxiPhfEnE1h0+JWJWoEMmGui2YAk8OsHC5xjDRt/5"
    "vih2qpPBNL3BPzDYRr6FzBCsTUa1HbBIqyCSzhz6qtLgkKjB6aU9i2ANK2MN5ycL+3s3PK"
    "bQFVrQaVWQ2iUrLJNClkI5U5hUmKc8UclJpFleIuTMlekyhjap+cZOBM0CqVNam6KNgzYe"
    "cB2WtePXAPD9pZnPPYLJ3zq8oovjZ1ZY8JwRM8ien2yChVFdAu2hxpmcBhuWSOsejdsgQ1"
    "Ln2PJ5BW0POxhUBpVCOY2RvkQjtKVYWtXoS/wwPtEdbACGUtWZZZstQq/SMWOUJYr3GZ19"
    "i38DxmmeO09UqXeaVnU/ORHpwoZe3BKfGyr1xX8Ayf+WI1o0R1sGaCkQCXKR+oIYoa0YfD"
    "X33L/RODXyt2FakZC30NbarkwNcEXrABVFfiVisKb5QRRhC+Bs58ffmu81yxxWpjJzgy/Q"
    "2f7sRcXvDLlBUDfYvoKpyPmWDEkgT3hum2yKV0iXLGYGYKZ+T7COVY8NloTN4MZ47xpu/N"
    "yraGzFjA8dei5h3urX5iZoytDaYjjbmwRpajg4z1EMo5KuhQEgODC5Uvc89LHtVUYzkM9g"
    "+MAxKCdlHC2Qx70SUUyAWbcoG+SVzTrgMbiasuXewMdtcdE65yzrdIv089N3xPsKGeAzb1"
    "BnvhEsskfKjLvJa+s1ONa8muY1AHc4Mw05I6CnJqU4PVwc4ldGxKdp/AadNNrn77Spj6ir"
    "a2TuCNoKto4zWCtNtIHkFcm7EMSf4koNZu7Vhr/B2ZFSJKBjPLlpaDHMuV/9iWe3nNYiBA"
    "6xcjjntMQ8EO4otRPpf+Cl9pKJ6/LcBjbrMshu41Xp1Vn07tz6+ynQZlBi+cL+ORHKIoTr"
    "M8LPW5HFJ6fKnLZncswdecbgRZISwtuOp2jJomcTBlrhevRCK5KoqHXovbeY7lgKIc5zIO"
    "W5lzOax/5FmUON2TlmZ3Do6trEF9jSKd++ymET5LvoTa9VK1Vc/kepnBauXMkhGhqd0ED7"
    "sJNGAbMGlXPktGZGvlNmXXV73qRHE7lShuBbcEX0kStul+k6UcHFnZbJfAdIqaF+5SJcNE"
    "JXhfS2tt3uUtT5FPvuWVrwt0eHT0FTDYA+SWLciE3qpPpwg2VaIkMWzLuCXLcFNJqCG466"
    "oEKlRIV18icxne2yKgDjEh4RktW90d6zrq6ha1bSbgb3cOA5O5Jcfap7Kco40H/AKnJ6Aj"
    "YT58Vytkzliq3hp7aFmn0ntOp8aO2KZKj3AoPj+nVeoZjFE7hKYZYuRZvQ9hmko437btfg"
    "CG7iZBnO7bDCiqEF9ftHOzthmlb/XdtB5ksRn5Ek9O+0GUqj4k6tDNOnSzHNpu80mhm77+"
    "83RYq2/oivLAUkVtns1MS144MjkJTai2udYSge16Nh9lN0CoPCnwP8WPN02nsPJmi1zzuY"
    "5jVMGU+J0xT81n5lutxoMiqFKtCjacucxdRl9KvpJ8cUvDdJ09GGE0QvOCpT+ZNrFGQlnN"
    "XB2RCT06hKqPUr2cC0tK+PPm3x/9HDMGdV5gVlisYmRsuZKLxTZiJs+t0V/FwvC3dvvo6F"
    "X74Oj09cnxq1cnrw+WZ8hq1brD5PzyZzxPIlJWhkyyhR/hD+sgu2fnCd8MkDm15oCigjrz"
    "cZYr08fpN6aPVy5MFxwTWYzGrMKO8MV64Qfn6wRhKoR9uT+e32BRvNWyZBaLzZvZJLUSrJ"
    "bpMUQBRR3Ytd5AVAcV1QaibAYiQ+aOLgmR1Hzt4dgShKtIjbtk8Ga/JSkfH1iyTW37aiYH"
    "/P6TvkTXSFC4ow2a63RurppmUrjTAX5Y4fzW8C4E4kje/UO9hF5S1Pw5Smu1tCi1NLR0mf"
    "WogKSCitTmc5mGXomsEIdIqgjxVr7sre475wE5oCixwlomiMtowto54S0CKF3YPGnTpmul"
    "IZLi1dL6VkutgO60AhoRSXOue5y2vpJcnosseqVX9OJncphGv12yJog7+LpJhhBu9XGVzJ"
    "/x6PdV2OXy85R4LGCulkP82MUR6fe/d72PkLpdfKJWqwUP1VVfko6W4JywoNugzqLb+BN+"
    "2na38aPff7viTy1kVEyLY1qCGVIPk7FXIH1D5mNOJnThfyVERX+DmrxMX9NSX/fU0neQ8C"
    "acFsfLwrPMdyMYvLuudMmQ+24E/ZFR9B7jrmZm19lTc/QUJ/1Yro35dxo4T288Xf7u4LB9"
    "pB50/+1yelz5qdkCfRaLlTxAc+rCQ5l1Up0yxp/rFyKPiBdQ1BLeEyQ8zSJyeXyWFLXHZ+"
    "PLIdgEnr+n3K09fUEnz/c/0sgLTHBxfHywK98D8dAaMDiU2OPRXqUvDu6j051BO9XAl85q"
    "0g18dW6KHEylzlKQvsl3U4tPUO5KkyA6/rLtvNz6JIU5Q5Je/3ufGZ3OeVP0lmo9snueU/"
    "PzLsPoN2eL6ADzEo0EE4SuaK6zPCDjE9nMDU9zHw+twKomZk7tLi6vu/gWHj6Pj81vX0Ev"
    "5lE7g4ftqJ3qYMOq5/avZUB41860HcxL+YQwZj95hrIGKoatrIEuk2iPfIv2QnuZYUPfaL"
    "FGDih1Ztx2W8yKFJs7oGTa0ca1fH1WrqC5XvMJqCqo9eyulrPqrAyLRXkWOExXOynLvMIo"
    "ZuUyUHvta/P0RixJJfEXg/QsvXjeazZsJChrsRbNdVqbAW173kc4MP3tFhS4tIBfTLb7pG"
    "RXtR5XlB5Xh/3WYb+ViElNTAyejnByPvAa3RR0/XMkiVmngxylKjPWjRuMwiHSbZIOs9lI"
    "0AkJZk+6s/ZB+zSjplyHuFdgw9cOxXT0q+VQLInwf8aEZYwbSUGiumatsE+DNtt00dQRg0"
    "VGDKZardP5fLrZulTH7SM5ffvkJEt+jZOT9AQbWLfyaZlc2o9uXkF0Dw8OspyjBwfp5yjW"
    "xZQf7mB67jzGrRBJHfe6S5asH/8Hh07d1w=="
)
