from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "callback_tokens" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "token" VARCHAR(32) NOT NULL UNIQUE,
    "adapter" VARCHAR(16) NOT NULL,
    "command" TEXT NOT NULL /* the typed twin the button stands for */,
    "payload" JSON NOT NULL,
    "created_at" TIMESTAMP NOT NULL
) /* button callbacks by short id */;
        CREATE TABLE IF NOT EXISTS "dialogs" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "adapter" VARCHAR(16) NOT NULL,
    "channel" VARCHAR(128) NOT NULL,
    "kind" VARCHAR(32) NOT NULL,
    "step" VARCHAR(32) NOT NULL,
    "data" JSON NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    "member_id" INT NOT NULL REFERENCES "members" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_dialogs_adapter_0b5867" UNIQUE ("adapter", "channel", "member_id")
) /* guided conversations under way */;
        CREATE TABLE IF NOT EXISTS "link_codes" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "code" VARCHAR(16) NOT NULL UNIQUE,
    "adapter" VARCHAR(16) NOT NULL /* the chat the code was asked in */,
    "created_at" TIMESTAMP NOT NULL,
    "expires_at" TIMESTAMP NOT NULL,
    "used_at" TIMESTAMP,
    "member_id" INT NOT NULL REFERENCES "members" ("id") ON DELETE CASCADE
) /* one-time codes that join two chat identities */;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "callback_tokens";
        DROP TABLE IF EXISTS "dialogs";
        DROP TABLE IF EXISTS "link_codes";"""


MODELS_STATE = (
    "eJztXf9T27i2/1c0+aUwk1JKKe2y++5coOwub6H0Qfre3lt2EsVWEt3YVq6tQLN7+7+/cy"
    "Q7sR072CEJjquZTgFbR5I/+na+6Zy/Gq6wmRPsnQ2ovLCZJ7mcNI7JXw2Pugx+yXzfJA06"
    "Gs3e4gNJu44isKBkm+uinKl3tBtIn1oSXveoEzB4ZLPA8vlIcuEh0a/igVCCpITadCSZT7"
    "ADATx0mdtl/jHZ6XQCh1rDTqdJOp3P+weHp+fvLn/tdHab6t2AOY5+1xVdeHo3Ptg/OMLm"
    "bWFB+9zrr72lscf/PWZtKfpMDpgP7X350gibwffsK/ziUQfwafzxBzzgns2+AkhQEP8cDd"
    "s9zhw7MQJQFl6p5205GalnF578WRXEz+u2LeGMXW9WeDSRA+FNS3NP4tM+85hPJcPqpT/G"
    "YfDGjhMOXDQy+htmRXQXYzQ269Gxg4OJ1LoDs2eNdvvjdat9e95qtxtzAx1RxEYkfGQJDy"
    "cJdDVQX9/HLrw8eH347vD9m6PD91BEdXP65N033fQMGE2o4PnYanxT76mkuoTCeAZqbFCS"
    "yMJE97OhjZGk8IWOp/GN0FwEcPRghvBsdWwCYpd+bTvM68sB/Pn6aAGe/3tyc/bryc3O66"
    "NdbFDAYtaL/WP45kC9QshnEMcnewmYU2R1hPrgfRGsD97ng43vkmjrzSsT69zNIkHz+J6x"
    "DUCvYNvAjbg3zNw1NGDzCP8sfMb73m9sooC+gD5Rz2IZsIbH6dW0oi0D+Fs0h6Kns3PBpw"
    "/T0ys5teD74auZ1Cv/5Pbs5MN5Q+HchWP2gfp2OwE4vhEHIvVkWnb+lXvgpp9Qj/YVPPgd"
    "2Osk8hkszmxM8pkb/VkFmZoTMoKywiPwD9gBIhl198i1x0JOg7h0QrqMDD3xACUECdg9zA"
    "VHcScB2VGMRpPcIi/SJC1AsO9Td3dvjqdZZ0MZLI1hXJ6RcVE/SxynUfnVnKPrgLYRDIQv"
    "yYB6tgN1sb3+HgHGOj3Li5ysR4cFDtajw9xzFV8lj1WbByOHTtplYU/TGTamGBsjucv+FF"
    "4prOM0m8O58bl11tgI0Kuf1ZbPEI02lfM4f4A3iGg21knKFNp2SLoX/bKNcxw+0L72nEm4"
    "uS2AvnVxdX7bOrn6hM25QfBvR+F30jrHNwfq6ST1dCctQU0rIf930fqV4J/kn9cfzxW8Ip"
    "B9X7U4K9f6ZwP7RMdStOE8b1M7tg9HTyPU5pnZfK4rfnDHtTfJ6XEa0v782w1zqEI3l8tN"
    "K422bCrk8bqJpeQL56kwacbzBiqqK0jUssQYCZ6E062wOHVOdF0FoArXxFYhhUv+iTB9gi"
    "rqOpFsZvEAKn4iRCejkS/uqfMhrK6ucMFbj1ny6YCdTSuqK1Q2bC2i/0SYPqhK6gqRw70h"
    "FLGfet5dQj1n8GudcFq/ykrxB7lqq4h7eEx11Z7yK4/qr/JByTRzzXSj2IQxbz2rlsgPp0"
    "NREToqvy7xeaPYrll47vvUW054TlIa4bnqwrOxrxn7WkUYjOa22Nc+AffXE757ohiROW4l"
    "/nohuzIKC7ahSEF72/XJWA4IlieiR35FC5eNljESMP8efsBDSnrM1vOBRC3MmdM05YuATC"
    "skyrbGHqmI7FzRQApbeMek0/l0fdsir+iIv7p//Qo71emozvBw8uaa17404j3jsbnuM5v7"
    "IIa1xz43DNazMljxISrKZMVpamgPenNQgNN6c5DLaeGrJKcVn/tFQeb5Z0OlQIbtNmDk88"
    "0l7iZotNd7yzJWz4O3bwsgD6VyoVfvUiYihzNPlvTdShBVGf0lp/g6kQ6Y5bMMkeLcs/zJ"
    "CABrsa85m/ZcDUtBX011eabscP57KyE2RPjuXJ38vpsQHS6vP/4SFY+Nx9nl9WlqGBKHa4"
    "k5n6ar4bR/vX9QRIrGYvm2fvXSmKG/T0m6hBl6ncJJ0oKYIZ7MmRjzBZRAFW3HTZsFRBQQ"
    "IkKKSKaIuMLQ82mn03FDKULfMRgoaeTvPRFETzM8AFdU7513Bz9hcSmjPXwCyCwcr0b89+"
    "31RwItjl14QXaOLYcGwXFH0mAY7EUtBXvI0+ydxch3yZCNJGHRGUaoJDCT5F6qnbbP7qGt"
    "vmABGY9Id6I+Ab4EHRUn5MHnkiGjlOrcMXTNZz2ocaDLBAQnChA6UAOKasBZ3XlQuTLzEY"
    "6tUxs+oDf2rONOSNuOV7rbJIEg8kGQB+EPmR9ELQDU2H0BzCWxqPdCEkcAC4e8m8cemI/t"
    "6K5IMWTeHnQWWFE5DkHsQGuhPQ4ePAy4o2mn0iNQjwP4AnwYjeUOlwFRNmFCfUYGMMuNW6"
    "aRB6t6aK1ZHtQuomUgnlFU2P9V7SDwiQSWv024R16+lGIZQXAtHpmxvXE54SRJb0ST8qJJ"
    "6qAssX1nUG7ODrFf6b085nOMx3WbfR2BHBcsIYxk0a9AJNmiSV8hCSTCZKExj3mIcQYfdC"
    "qEw6iXczNxRpUa3i6QrWsVRSfMZof09Pr6MjGapxfpjerz1ek5nCZqGKEQ1+an+eVlpPz8"
    "naxeUn581LXoU4ZXm1Fs8BKHGDY2wgyv/nq1hgtOdRpoZ7skzvkM2RxhhVkyxRs7NJBaOq"
    "ZOZC2ZaTe0XdaTLDT6VI99A8iYU2YlTAmqPDID8aBGQoXS0CE0uAyVTX+nlqvUN79Xxp7l"
    "M1dIVtKelSCq8mDgQHA7WhwxTWB8rVRmLMZ+qeUQFq8w/lWzqwyYNVyO40pQbo0Q03gYMA"
    "/D+lDH0ccF3u9gtt6gZjKwUuk+/ZCoECtWSNwJ9dJLzYg07dbMie9SsA0NDDBa3Uk5X9UM"
    "yqU0RRUb3DU7rMZRmwd7fW6rFUO5qNdqxiRL+K5CP8jHz5eXi5xX45cBHX7P/CdfU/6g66"
    "nVFeVSVvT49VOHWxkzOYLz2mMtAf8Vv2L5aVpjPaZ0UgZ3xKLbusXRwju70JvbqL6aYFXS"
    "PWO6EDM8M+KLNN8pI7klFPPHwDM4cpoIJadjxTgCvFL9gsFcqATe2CfMA8THGC7Ss4Hh1C"
    "4CZDTuOhyYpCDbM2OlLaCPxsncY+3yQHsYz9IV9+irgPX6IKT3fOGSTkfVanc6GP+p0wkJ"
    "oRx6J6iu3XkwgDZHaKhDPn9ChobsKA7aodzVfhHobxGCDOy18Ik9HsECV37wqgXisiCA4S"
    "U2+nJ4QmIbC1zdw8vqISxzXu1flLpKK3aAGHhQKPAFuNKR8GeqYV3mD+PysEmXh+nAlFHw"
    "bjpIzwPluLFuq5I3nPNzIC+W2WZURlqrsrRGpWTuKIuDyN2c4iTGkp82NT5jyNmKLROjxd"
    "16LS7qMdvM90XGhdh8616Sqg5ob9pcx23YYQXaEyftIcsQhhdcPpsnraFj5xriEaKAkaNE"
    "W3TbLE5Vh6m+CXfOELQlbEMJSsNZVpmz1ML+EoOcIDRjXOUxjnQ/ywxzmtaMdJVHOqXtKm"
    "e+TZBuzThriz4qH8VYWsJl5IEGRApHXZCI/I7S2tb6T4XxyF7SmTZJaZxpKzzsefFzy1n0"
    "k0Qm/FSGvgiHqRyoMQqD6OP+EZF554l+ETULadxMuUXEJlV2KK+MvWAFqJaNp72t8CY3wg"
    "TCN7Az31yctZ4tWhpO7KwwaZFZND8+WhQovFAeIjRAoz0ZuCqf4TV4nBt2sEcuZECUXQ75"
    "Ka8fGZLlwBfj/oCE9+TDXjm8x6wJHH971L7HudXJzEW0tsZ0eALh8z739KV63YSyoPu0J4"
    "mF12iVwXsnTNfXVG15DOYPtAMcgrZjw9kMc1Hfqo94ZBU74M6DiSR0RCasDGbXPfMD5b+B"
    "V/pp6NfS9llP90F5XOvGXgRxL+ywZGQRV+1yeedZ1MNsTMzmUt/3HTnUYuZafwVt3JJ9zd"
    "hp87XvUflaaH03rXh3YUXQebQx9kg22lOCtDTDLUn+Qxy+Pq6h8RNuVogo6Y65I7mHO1Yg"
    "/9bY/GAgQIsHI417SkLBCtKDUT3vjrl9paH2/HUBnrKgFrF5LDDwzZv3jGtHnfU0yDPwrH"
    "uZuUdyjGJzkuXrSp/LMaEn4rocdp91lzJfCTJHWFlw9V1X7CbxMEl56LpGEjlvNg+9ZrfL"
    "HMszimqcy9hsbc7luPxRZlDSdE8amu05ONYyBiaiRf7us51K+CIRLYzppW6jXsj0MobRKp"
    "n3I0FjzASPmwk0YCtQadc+70diapVWZZu7kybhZFWumvrMGvs+y0zvUP4C5U2itq1kXx+5"
    "aqoWa9sfZ4hi5eG6VbXdjItMxG1Bq6TpbW5JZpjhspZtvkluKmIlNo1il1B1PqcXwVTa16"
    "GmI4VAeHk01BFl3zItVwXa0lr6CioMKxmyCXHpEK+doj1MSSnEcrg1JFOndkmo5YsgUBG8"
    "qS+D4zBxCd4bxbxGzJfwjdxRd1fvPOWlRR2H+fB38IChtB+4HGhz3bSPDvKOGO+bYHxs33"
    "78rmhMUzbV6mjsoaRJi/Sc9rItUXtWHuHYLaCSCs9n0HNuEZp2bCMvatiK09TCrrtuy1b5"
    "kJRbEYuysnZzo47Mn+rbqZgqoo6MOJ6SqqkklTkkjFew8QquhgDbfJJXcCT/PB3W+utQk3"
    "tgpRyCT8Y2l+eezA6CFXvbXKiJwHJtR/SLKyBUnCb4n0oygIph5O09ciMetIus8tPFXFyh"
    "mM/sH7UYD4KgSmQaJa+KHHulmMtgs6Zm7rwdaKHfR/VCeDXM5X1fKcAC7ewLNWJ0WEwG9B"
    "LThEn48/Z/LqMYVzqZl890lrEBD6TwJ+twxz3l/e9Fw/DDwcGbN+8O9t8cvX97+O7d2/f7"
    "0zNk/tWiw+T04hc8TxJcVoF0XBs/wh+XQbZPzxO/dCJLSs0zihrKzIdFAjMc5sdlOJwLy7"
    "Bhd9sNhqXHhfUiuvehAxTqGPXR/Hh+hcXmtZYV01isXs0mKc/QWua7p80ojM/gYgWR8Vcz"
    "CqJiCiJLlnZcipGYfe1xtyWEa5MSd8XgLX4BVy7vs7ROaft6LLvi65W+n9nIELiTBZqLZG"
    "6hihYSuPMBflzg/NII75piS+HVVj2EYVBmFSPZiKWVFEtjQ1dYjpqR1FCQWn3E5NiSKApx"
    "jKSOEK8jiqC+Sl8G5BlFhQXWKkFcRRXW1jFvCUDpxBFZkzZfKo2RbF4sfR4PBSOAGgE0UW"
    "55ATTBkpYc9zStue1enTtSeqTn5OJnMpgm80wtcOKeZaIq4MKtEmEVTiPU6Si3y0AHBKLq"
    "WMAwQK8x2c4b0un8ddfQ7tnBHX7R3t4efNRdwxcOSz7BPuGDuwb1JneN/8BPx7lrfOt0fp"
    "yzp26kVYy4ZHOfWVI3U7BWID0mDwNBXDqJshQp728Qk6eRkfaw8pD7nsVSikdcCgM8TUMp"
    "+QzWbiAD0hN+ItUtWo9xVjP7zttRfQwFJ/1ZgYOhnRrYz7A9/fxs//XBG/Whuz9OuyeUnZ"
    "pN0GYxmQsxhXFIXWqbeE1V9D/XC6IMizejMBzeEzg8vUWUsvhMKYzFZ+XD4TMXvr+tzK1t"
    "fUGnTJahPPINxk45PNzflqxDIVpdBocSWx7tefrNwf3maGvQzlXw5W81+Qo+E/akxKZiAm"
    "DkT/LtlOIzhLvKxB5PL7at51ufJDAXiP8c3f4uaHQuG/25UuNR3PKcG/p56ka/Ol1ECzYv"
    "v5GhgtAvmos0D7jx+cXUDU8zH/f4TKvmjz1jLq6uuXgIH1/GxhaVr6EV881BAQvbm4NcAx"
    "u+em77WgGEt+1M28KQp09wY46CZyhtoNqwlTYwYBL1kT+ivtCZRtjQN1p43wOhzk7rbjcz"
    "IpuNHVAx6WjlUr4+K+fQfCT/1pSqhlLP9ko588bKOFtUZoDjdMZIWeURRjarlII6LG/U0y"
    "vRJFXEXgzcswz9eW9Yr5EhrKVKNBdJbZiEsB3md8HIymsQ4PIcfjGOczrY1ZdGGN05IjGS"
    "XTUlO+MIbByBa+GlmhmFPh/h7ODzBt0cdKOTJWuzzgc5SVVlrBu36JdDZNAkLeawvk9dMu"
    "s9uRsf7B8cFZSdjdN7DSa8MTHmo18vE2NFxIFY3OgMUSAZVTpfDJjFsi7oMIqRd/2xw9Bd"
    "E90NdXTnzKyZ6e2vDK1OmOmxrxIDR89cLPEJ1OFFgXgC4gmt4ZwwSXY+QrXH+MgVmB5z7A"
    "W7P5JOx2cuzEboBVQ0EA/ERWdRD6tRyUiVq2cgueNgdsvQcT9WmcNdLneN22QF3SYtv1xw"
    "l6h8pXmLHr9nL9UXEewvzD8P6sRdFONEdTp4DvwJk7PTWYbDOCoSheQoPwrJ0VwUkqg/pR"
    "iMGE2VB2NJHmP1II89mRWY5BHeIiLaGgVvA/Zb3LenAXc4BkfDU0EWm+zby13MK36n51aJ"
    "kyNBY8xhWbcpxwHL0iEK4TDq5d2njIhSkHaBal271fTJZhXnp9fXl4kVcnqRjuX8+er0HE"
    "QktTSgEJcsG+uIgSu7b8Xptmbr+i5tU+aCbP7GtZ1yr8ko+D2OehGH6go4nm29MFtCe5Tw"
    "4HliGrcyabOqtqLyXKYz8rc9Fqm9pKf5snHat8LD/NEo7avTVc5mX4aqMjE1i2gq29FyKB"
    "YfHNV8okdoXN049YtUakSL+uoNl2THZyOHWswmvKdKITXHxGEvQ35lNzuH2VpayXSqCKbJ"
    "L+NO8EYD+UwaSONdWWv5pt6+4ZK5sBFJlvAPh7n5IoBXX3XICEuMOOxUPV+4BdXNq743a0"
    "TMmgkbRUTMMG1sqTMrQVPlxfd8yk8jwj0ZzzkRLj1p59EtHVi5VFboqk3aohJIYrkWkEEK"
    "3zQ2wl+FhD/EEbp864hwCabkv8T75iIRcKRLtoNp0UcFwBMvCrQFLM0DY0NnQhR5k1AMCf"
    "YFn9l0Qnb2yX+RK+HB77tN4nJvLJWfik7iNPmj0yEjynWmprgFfl4a3EyTxhGlWmKg8YHY"
    "gA+EXk3zEOdfhZpRVOMyFLa31ZehjBWo2ErYTsGsiBXoucLq1O882fK4OtUakGoG1jkTns"
    "es8FvmL2zO3i5kfK1puYJsbxRcNkZIxjAsGPZh0iTdCbk+GcsBmebiS4XnfZWqgHy6PGn9"
    "fH1zBTwphpBVfnk6wynqD3vCd1+g+UKHxsQovlCHgF1k8OqvqMC3VxZ1HIQVKuliWwH6eK"
    "su4BN4sUcuJNpButC2jbWonKgqZK8KyUuDIbOnppVEuF0oTL3gQSVgbRL2dQQ9QY4bykKF"
    "6Lx15wmY/mSn08G/4OjpdHb3oJ8W4N2GijgMqT/zNP/029k5CZjlM4ku5NZAcIthxOJY8F"
    "5d0hF94ND79J6hG7vSod551AaGnrjjQJIRt4bK333nZ2qxrhBD8glmC/TuknvwQRceGcF3"
    "wEcIH/71qcf/VB+1qyQG5ln+ZIQe6XgGG+a/gsz/hnNgVgzcDWQUCbeQMhDHaWooXK0+rF"
    "R8Oy0jYqXpqiFobX3UifjQ8BjvVnT+83x+r0p3OBtXNJDCFt4xUXnSP99cRjqwgPn3OmxA"
    "6US7b98WWB1QKj/VLr5Lr48YnzA/EufRMd1iX3OO07kaKjwuKzH2n//eWrwWpoLt5fXHX6"
    "Li6QWSjo6gGLHlBmBGa6BfAnpjiK+ZvqeIIT6UpZYY9SRlDUd9S0a5kKNTKBSX1uQGJojc"
    "VoyvVqOU09omaIw/zeP+H+40H/YT/T8KJ9auGsBF1bCJqfV0348VuivolF+3ko0aWd4Ksd"
    "fNhc4KumA7gJIFtbaqKKHEhRHhL/GvaQIyKcQwRxLKdBIPsxBOQoCxLuMn/qw6wtSIFEQ3"
    "RWWid8+7NAbhUiyue9Xla6gUXL3HxT11xhlqp3wRe0pQC3iNhF2ZoaiZhP0k2//quJ0rZn"
    "N66ohuFq8ze7mQ03GxWLsL5QryOdxF86eyzd5zm4mgibZcyTz5EkADXIP5vAPqkp0iRCup"
    "IsugOiadzpBNooSvPwUDevD26G97P8F+9TfjOVlJxgjGq8zxHRavneH0hyJxhH/IjyP8w3"
    "wcYb06NEYlEE7T1eIkXzej1ONQOXVLAR2n2RzIer9ubATntRjiAv5nBsz5l8LC4kZ/lSE8"
    "ZaeWOOUe9Sc5Eml2conuRGrD2pYBugCt09A6P+UgYVKeXnw8uflHNot/mmHNP/1H6/zEMP"
    "mGyX/WzCGh32VLDFm2H2qiwEJmP/LhBP4ZyhZk+LtjKYVHItoAHVCDgfAl4XkJxlbMpZsE"
    "IfhuEwlCZDSHCt+Cighqx9Kv3kfPZF9Zf/YV4cJGmrGFLPLrmpJUGWId8QN6ZhP5wHWsj3"
    "Bn1lHXMRdkznb8zHrREZ04IiuDRb5baozEeKQuHpAlPFIND2t42I3ysB84dUQ/i3kN3yzk"
    "Wm1VpiC32h9zG/bIuF977PZUpmJaezO8CEgGLV7fx9s/mHHvmHAZEMx2jfeQbJ/28BZSk+"
    "hgH5j9go2UXlzfZQpIIKCXfn4wuOwMe6EbijH4P6de2/BqJlNeLW5f4XZVykLDq88LV0ai"
    "M94rawTXJE7Ohd7ECqnOKthOgSHD63wuVohxOl8Vp2mczuvsdI6BIM7g10aGfDt911wk4T"
    "pQqo0XTAsKuSCRvsT9kigaHaH8XwK1gg9CiaoEBFlPchnGs0yGuCMJchUbGCN+YCfQ92om"
    "8DYxMEfAPJW5DhWOAmVXFGu78FusDUJ9pqj0GBlPrQpKtFY4C4s7Etk1DXKxckm2vsoCZX"
    "VQG4qO2QPbBUYV16F8uFfM3rB2RYJRZ9eMOzU3m83NV3Oz+bsYXyNkror5M0JmnYXME+Zz"
    "a9DIEDHDN81FAiadlXlMuMyH1Eh01ZLocrMb5Ysd+emNKiV2VOnCAi6qEgiHxWuI7uv9/S"
    "KS2/5+vuiG7zKvOZWx88RINm/qeR6ubmVGnWf1B/r2/2yt+Nc="
)
