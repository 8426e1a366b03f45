from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "platform_apps" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "platform" VARCHAR(32) NOT NULL,
    "instance" VARCHAR(255) NOT NULL /* base URL of the server */,
    "client_id" VARCHAR(255) NOT NULL,
    "client_secret" TEXT,
    "redirect_uri" VARCHAR(1024) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_platform_ap_platfor_298763" UNIQUE ("platform", "instance", "redirect_uri")
) /* OAuth apps of Herald per server of a federated platform */;
        CREATE TABLE IF NOT EXISTS "publish_steps" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "delivery_id" INT NOT NULL,
    "step" VARCHAR(64) NOT NULL,
    "value" TEXT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_publish_ste_deliver_2f4a6b" UNIQUE ("delivery_id", "step")
) /* steps a multi-step publish took */;
CREATE INDEX IF NOT EXISTS "idx_publish_ste_deliver_fa4e4b" ON "publish_steps" ("delivery_id");
        CREATE TABLE IF NOT EXISTS "media_blobs" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "key" VARCHAR(96) NOT NULL UNIQUE,
    "content_type" VARCHAR(64) NOT NULL,
    "filename" VARCHAR(255) NOT NULL,
    "size" INT NOT NULL,
    "data" BLOB NOT NULL,
    "created_at" TIMESTAMP NOT NULL
) /* images and videos, content-addressed */;
        CREATE TABLE IF NOT EXISTS "connections" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "state" VARCHAR(128) NOT NULL UNIQUE,
    "platform" VARCHAR(32) NOT NULL,
    "conversation" JSON NOT NULL,
    "instance" VARCHAR(255) /* Mastodon: base URL of the server */,
    "code_verifier" TEXT,
    "choices" TEXT,
    "created_at" TIMESTAMP NOT NULL,
    "expires_at" TIMESTAMP NOT NULL,
    "used_at" TIMESTAMP,
    "member_id" INT NOT NULL REFERENCES "members" ("id") ON DELETE CASCADE
) /* account connections under way, by OAuth state */;
        ALTER TABLE "social_accounts" ADD "credentials_rev" INT NOT NULL DEFAULT 0;
        ALTER TABLE "social_accounts" ADD "url" VARCHAR(1024);
        ALTER TABLE "social_accounts" ADD "label" VARCHAR(255) /* how the chat names it, e.g. @acme on X */;
        ALTER TABLE "social_accounts" ADD "refreshed_at" TIMESTAMP;
        ALTER TABLE "social_accounts" ADD "remote_id" VARCHAR(255) /* the id of the account on the platform */;
        ALTER TABLE "social_accounts" ADD "connected_by_id" INT REFERENCES "members" ("id") ON DELETE SET NULL;
        ALTER TABLE "social_accounts" ADD "status_reason" TEXT /* the last refusal of the platform, one sentence */;
        ALTER TABLE "social_accounts" ADD "checked_at" TIMESTAMP /* when a call last proved the credentials work */;
        ALTER TABLE "social_accounts" ADD "status" VARCHAR(16) NOT NULL DEFAULT 'ok';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        ALTER TABLE "social_accounts" DROP COLUMN "credentials_rev";
        ALTER TABLE "social_accounts" DROP COLUMN "url";
        ALTER TABLE "social_accounts" DROP COLUMN "label";
        ALTER TABLE "social_accounts" DROP COLUMN "refreshed_at";
        ALTER TABLE "social_accounts" DROP COLUMN "remote_id";
        ALTER TABLE "social_accounts" DROP COLUMN "connected_by_id";
        ALTER TABLE "social_accounts" DROP COLUMN "status_reason";
        ALTER TABLE "social_accounts" DROP COLUMN "checked_at";
        ALTER TABLE "social_accounts" DROP COLUMN "status";
        DROP TABLE IF EXISTS "connections";
        DROP TABLE IF EXISTS "media_blobs";
        DROP TABLE IF EXISTS "publish_steps";
        DROP TABLE IF EXISTS "platform_apps";"""


MODELS_STATE = (
    "eJztXf9T27i2/1c0+aUwQ1MaKO2y+3YudNld3kLpg/S9vbfsxIqtJBpsK9dWgOze/u/vHM"
    "lO/DXYIQmO1zOdApaOZH+OvpxvOvqr5QiL2X7744jKc4u5kstp65j81XKpw+CXzPI90qLj"
    "8bwUH0jatxWBCTV7XFflTJXRvi89akooHlDbZ/DIYr7p8bHkwkWiX8UDoQRJCbXoWDKP4A"
    "v48NBhTp95x2THMHybmneGsUcM48t+5/D07P3Fr4axu6fKRsy2dVlf9OHp7aSz3znC7i1h"
    "Qv/cHa69p4nL/z1hPSmGTI6YB/19/doKusFy9gi/uNQGfFp//AEPuGuxRwAJKuKf47vegD"
    "PbinEA6kKRet6T07F6du7Kn1VF/Lx+zxT2xHHnlcdTORLurDZ3JT4dMpd5VDJsXnoTZIM7"
    "se2AcSFn9DfMq+hXjNBYbEAnNjITqfULzJ+1er1PV93ezVm312ulGB1SRDgSPDKFi4MEXt"
    "VXXz/EV3jdeXv4/vDDwdHhB6iiXnP25P033fUcGE2o4PnUbX1T5VRSXUNhPAc1wpQ4sjDQ"
    "vWxoIyQJfOHFk/iGaC4COHwwR3g+OzYBsUMfezZzh3IEf749WoDn/55cf/z15Hrn7dEudi"
    "hgMuvJ/iko6agihHwOcXSwl4A5QVZHqDsfimDd+ZAPNpbF0daLVybWuYtFjObpNWMbgF7B"
    "soEL8eAuc9XQgKUR/ll4jA/d39hUAX0O70Rdk2XAGmynl7OGtgzgb+EYCp/O9wWPPsx2r/"
    "jQgu+Hr2ZSz/yTm48nP521FM592GYfqGf1YoBjieiIxJNZ3XSR03GST6hLhwoe/A586zjy"
    "GSLOnCf5wo3+rIJCzQkZQ13hEvgH4gCRjDptcuWyQNIgDp2SPiN3rniAGoL47B7Ggq2kE5"
    "/sKEFjj9ygLLJHuoDg0KPObjsl06yzowyRphFcXlBwUT9LbKdh/dXso+uAtuWPhCfJiLqW"
    "DW2x9rBNQLBOjvIiO+vRYYGN9egwd1/Fovi2anF/bNNpryzsSbpGjCkmxkjusD+FWwrrKM"
    "3mcG596X5sbQTo1Y9q02OIRo/KNM4/QQkimo11nDKBthWQtsNftnGMwwdaV649DRa3BdB3"
    "zy/Pbronl5+xO8f3/20r/E66Z1jSUU+niac7SQ1q1gj5v/PurwT/JP+6+nSm4BW+HHqqx3"
    "m97r9a+E50IkUP9vMetSLrcPg0RC0tzOZLXdGNO2q9iQ+P04D259+umU0VurlSbtJotGVD"
    "IU/WjU0lT9jPhUkLntfQUF1BoqYpJkjwLJxuhMmpfaLbKgBVMCe2Cimc8s+E6TM0UdeBZD"
    "GT+9DwMyE6GY89cU/tn4Lm6goXlLrMlM8H7OOsoTpBtX47g1rUc20N4ZL/lL2hN9tknjQ6"
    "5IOS6ZuYG7Swi8Yn8aKqvRcMh6J6T1h/XTrPRrFds8Yz9Ki7nMYTp2w0nqprPI1TpHGKVE"
    "TA2NsWp8hnkP8GwnNOlCCSklaixQvFlXFQsQdVCjpJrk4mckSwPhED8iu6JSx0ZxCfeffw"
    "Ax5SMmCWHg8k7CHlA9GUr3wya5Aohwh7oiGyc0l9KSzhHhPD+Hx10yVv6Ji/uX/7Bl/KMN"
    "TL8GDw5vpEvraib8YjY91jFvdAdu5NPN4IWC8qYEVZVFTIitLU0Ih/0CkgaR10ciUtLIpL"
    "WtGxXxRknr83VApkWG59Rr5cX+Bqgp5WvbYs46rqvHtXAHmolQu9KkvY9W3OXFky4CZGVG"
    "X0lxzi60TaZ6bHMlSKM9f0pmMArMsecxbtVAtLQV9NG2em7nD2ezemNoT47lye/L4bUx0u"
    "rj79ElaP8OPjxdVpgg2xzbXEmE/S1XDYv93vFNGisVq+g1YVNr7Dv6cmXcJ3uE7lJO72yV"
    "BPUn6hfAXFV1V7UX9UARUFlIiAItQpQqkwCFfZMQwn0CJ0YPhIaSP/GAg/fJoRtrWidm/d"
    "W/gJk0t5WuETQGfhGM/+3zdXnwj0OHGggOwcmzb1/WNDUv/Ob4c9+W2UadofI+S75I6NJW"
    "HhHkaoJDCSZDvRT89j99DXUDCfTMakP1WfAF+C0WVT8uBxyVBQSrzcMbyaxwbQ4kjX8QkO"
    "FCC0oQVU1UCyunWhceWbIRx7pxZ8wGDimsdGwPVIm23/gY4xOt8XRD4I8iC8O+b5YS8AN3"
    "6CAAGTmNR9JYktQIxD+c1lD8zDvvTrSHHH3Da8MIijchIAaRiwU2j/Bzx4GHFb0840SKCe"
    "+PAV+DDk5w6XPlHOPEI9RkYw0pt4ukYnrOrGtWadUMf2lYF4TlHhwEW1gsAnEpj+FuEuef"
    "1aimWUwbWE0kUWyOUUlDh9o56UV08Sm2WJ5TuDcnO+iP1Kr+WRYFHcrnvscQy6nL+EQpJF"
    "vwK1ZIsGfYW0kBCThQ495iLGGXLQqRA2o27OkbI5VYK9fSBb1ywKd5jNsvT06uoixs3T8+"
    "RC9eXy9Ax2E8VGqMS1Cyo9vRpNP38lq5emH+W6Vn3KyGpzig1G34u71kaE4dWfi9Vwwa5O"
    "fR1OF8c5XyBLEVZYJFOysU19qbVjaocek7mFQ/tmXckCx0/1xDeAjNllZsKMoMqcGYkHxQ"
    "mVA0HnPuAyMDj9g5qOMuH8XhmflsccIVlJn1aMqMrMQEZwK5wcEWtgdK5UhhcTr9R0CKpX"
    "GP+q+VZGzLxbTuKKUW6NEtN6GDEX87FQ29bbBQbmM0svUHMdWJl0n79JVEgUK6TuBHbppU"
    "ZEknZrxsTfUrENHAzArf60XLxqBuVSlqKKMXfNQatR1NJgry90tWIoF41czRhksfhVeA/y"
    "6cvFxaIA1ugpLpvfM+/Z50t/0u3U6mxpKU969Nygzc2MkRzCeeWyroD/ip+N+zxrsR5DOq"
    "6D22LRMcviaOFhS3ibm7C9mmBVMkRjNhEzojOikzQ/MCO+JBSLycA9OAycCDSnYyU4ArxS"
    "/YJZOKgE2dgjzAXEJ5jnz7VA4NQhAmQ86dschCQ/OzpjpT1gnMZJ6rEOe6ADTEToiHuMVc"
    "B2PVDSB55wiGGoVi3DwMQ9hhEQQj2MTlCvdusCAy2O0FCbfPmMAg3ZURK0Tbmj4yIw5iIA"
    "GcRr4RFrMoYJrmLhVQ/EYb4P7CUWxnO4QmIfC8Ldg1PGASypyPavylylDTtADDIoVPgKUu"
    "lYeHPTsK7zRxPysMmQhxljyhh4N51d5YFyXFi31cgbjPkUyIt1tjlVo61VWVujUjJnnCVB"
    "5C5OUZLGk590Nb5grtCKTZPGirv1Vly0Y/aY54mMQ7H53r04VR3Q3rS7jluwwgr0J057dy"
    "xDGV5wAC1NWsPAzjUkkkMFI8eItujEWZSqDkN9E+GcAWhL+IZilI1kWWXJUiv7SzA5Rtjw"
    "uMo8Dm0/y7A5SdtwusqcTli7yrlvY6Rbw2ft0Ufjo5hIUziMPFCfSGGrAxJh3FHS2lr/oT"
    "AZW0sG08Ypm2DaCrM9L/FpOY9+nKhJQZVhL0I2lQM1QtEg+nR8ROjeeWZcRM1y0e4lwiIi"
    "gyo7nVfGWrACVMsmQt5WeOMLYQzha1iZr88/dl8sYxoO7KxUaaFbND9HWpjhudAFMuiARn"
    "8ySFUew6PwODYsv03OpU+UXw7lKXcYOpLlyBOT4YjEz8rbfMDMKWx/bWrd49gyMi+RWVtn"
    "OkWB8PiQu/pQve5CedA9OpDExGO0yuG9E9yztqf6chmMH+gHJATtx4a9GcaiPlUfysgqf8"
    "CtCwNJ6KxM2BiMrnvm+Sp+A4/00yCupeexgX4HFXGtO3vlR6Owg5qhR1z1y+Wta1IXr9Fh"
    "Fpf6vO/YpiZrjvVX0Mct2WPGSptvfQ/r18Lqu2nDuwMzgqbRxvwj2WjPCJLaDDcl+Q+x+f"
    "qkhtYPuFghoqQ/4bbkLq5YvvyxtXlmIECLmZHEPaGhYANJZlQvuiO1rrTUmr8uwBMe1CI+"
    "jwUOvrR7rwntqLOdBmUGnnUuM3dLjlBsTrN8W+l9OaL0hFKXze6zzlLmG0FShJUFV591xd"
    "ckLt4uHYSukdhlJZuHXovbZbblOUU19mXstjb7clT/KMOUJN2zWLM9G8daeNBktMhffbbT"
    "CF8ko0Xjeqkb1wu5XibArZJ3f8RoGjfB024CDdgKTNq1v/sjNrRKm7Kbs5PNTYFVOWrqMX"
    "PieSzziofyByivY61tpfj6xFFTNVl73iRDFSsP141q7XpSZCBuC1olXW+pKZnhhsuatvku"
    "uZmKFVs0ih1C1Xc6vfJn2r5ONR0aBILDo4GNKPuUabkm0JfW1UdQga3kjk2JQ+/w2Cn6w5"
    "SWQkybm3dkFtQuCTU94fsqizf1pH8cXF6C50bxbiPmSfhGbquzq7euitKits08+Nt/wFTa"
    "D1yOtLtu9o42yo6Y85tgfmzPevqsaMRSNrPqaOyhZnM10kv6y7bE7Fl5hCOngEoaPF/Azr"
    "lFaFqRhbyoYytKUwu/7ro9W+VTUm5FLsrK+s0bc2T+UN9Ow1QRc2Qo8ZQ0TcWpmk2iiQpu"
    "ooKrocDuPSsqONR/ng9r/W2o8TWwUgHBJxOLyzNXZifBipTuLbREYL2eLYbFDRAqTxP8Ty"
    "UZQcPAeatNrsWDDpFVcbp4H1eg5jPre63GgyKoLjMNL68KA3ulSN1gs6Zubt0d6GE4RPNC"
    "cDTM4UNPGcB8HewLLWJ2WLwM6DVeFSbhz5v/uQhzXOnLvDymbxobcV8Kb7qOcNxTPvy7WB"
    "i+63QODt539g+OPrw7fP/+3Yf92R6SLlq0mZye/4L7SUzKKnAd18a38Kd1kO2z80QPnciS"
    "WvOcooY682GRxAyH+XkZDlNpGTYcbrvBtPQ4sV6F5z50gkKdoz4cHy9vsNi81bJiFovVm9"
    "kk5RlWy/zwtDlFEzO42EDUxKs1BqJiBiJTlg5cipA069rTYUsI1yY17orBW/wArlw+Zmmd"
    "2vbVRPbF46U+n9nKULjjFfYW6dxCVS2kcOcD/LTC+bUVnDXFnoKjrZqFQVJmlSO5UUsrqZ"
    "ZGWFdYj5qT1FCRWn3G5MiUKApxhKSOEK8ji6A+Sl8G5DlFhRXWKkFcRRPW1glvMUDp1BZZ"
    "gzZfK42QbF4tfZkIhUYBbRTQWL3lFdCYSFqS70na5rR7dc5IaU6n9OIXcpjG75laEMQ9v4"
    "mqQAi3ugir8DVChqHCLn2dEIiqbQHTAL3Fy3YOiGH8ddvS4dn+LX5Ru92Gj7ptecJm8Sf4"
    "TvjgtkXd6W3rP/DTtm9b3wzj+5Q/dSO9YsYli3vMlLqbgq0C6TF5GAni0Gl4S5GK/gY1eZ"
    "YZqY2NB9L3PJdSNONSkOBplkrJYzB3femTgfBiV92i9xhHNbNu3R31joHipD/LtzG1Uwvf"
    "M+hPP/+4/7ZzoD509/vZ6wnlp2ZT9FlMUymmMA+pQ60mX1MV48/1hCgj4s0pGgnvGRKeXi"
    "JKeXxmFI3HZ+Xs8JgD399T7taePqBT5pahPPIN5k45PNzflluHArT6DDYltjzaafrNwX1w"
    "tDVo5xr48peafANfk/akxKLSJMDIH+TbqcVnKHeVyT2enGxbL7c+S2EukP85PP1d0OlcNv"
    "tzpfhR3POcm/p5Fka/OltEFxYvr5VhgtAFe4ssD7jwecXMDc9zHw/43KrmTdzGXVxdd/Ed"
    "fHwZH1tYv4ZezINOAQ/bQSfXwYZFL+1fK4Dwtu1pW5jy9BlhzGHyDGUNVAu2sgb6TKI98n"
    "u0F9qzDBv6RAsfuqDUWUnb7WY4stncARXTjlau5eu9MoXmE/dvzahqqPVsr5aTdlZGxaIy"
    "DI7SNU7KKnMYxaxSBuqgfmOeXoklqSL+YpCeZRDPe80GrQxlLVFjb5HWhpcQ9oL7XTCz8h"
    "oUuLyAX8zjnEx29bUVZHcOSRrNrpqaXRMI3AQC1yJKNTMLfT7C2cnnG3Rz0A13lqzFOh/k"
    "OFWVsW7dYFwOkf4e6TKbDT3qkPnbk9tJZ79zVFB3boLeazDgGxdjPvr1cjFWRB2I5I3OUA"
    "XiWaXz1YB5LuuCAaOYedeb2AzDNTHcUGd3zrw1M7n8laHVF2a67FFi4uh5iCU+gTbcMBGP"
    "T1yhLZxTJsnOJ2j2GB85Aq/HnLj+7vfEMDzmwGiEt4CGRuKBOBgs6mIz6jJSFerpS27beL"
    "tlELgfaczmDpe7TdhkBcMmTa9ccpewfqVliwG/Z6/VFxF8Xxh/LrSJqyjmiTIM3Af+hMFp"
    "GMtIGEdFspAc5WchOUplIQnfp5SAEaGpMjOWlDFWD/LElVmJSZ6QLUKirTHwtmC9xXV7ln"
    "CHY3I03BVkscG+vdJF2vA727dK7BwxmsYdlnWacuKzLBuiEDajbt55ypAoAWkfqNa1Ws2e"
    "bNZwfnp1dRGbIafnyVzOXy5Pz0BFUlMDKnHJsrEOBbiy61aUbmuWrr+lb6o5IJu/cG2n3t"
    "vcKPh35HqRgOoKBJ5tvTJbwnoUi+B55jVuZa7NqtqMyguZzri/7alM7SUjzZfN074VEeZP"
    "Zmlfna1yPvoyTJWxoVnEUtkLp0Ox/OBo5hMDQqPmxllcpDIjmtRTJVySHY+NbWoyi/CBqo"
    "XUHC8Oex3IK7vZd5itpZfMoAp/dvllNAi+sUC+kAWyia6stX5T79hwyRxYiCSLxYfD2Hzl"
    "Q9GjThlhijGHlWrgCaeguXnV52YbFbNmykYRFTO4NrbUnhWjqfLkeznjZ6PCPRvPlAqXHL"
    "RpdEsnVi51K3TVBm1RDSQ2XQvoIIVPGjfKX4WUP8QRXvnGFsEUTOh/sfK9RSrgWNfs+bOq"
    "TyqAJ26YaAtEmgfG7uwpUeR7hGJKsK/4zKJTsrNP/otcChd+390jDncnUsWp6Eucpn8YBh"
    "lTrm9qinrg09rgZrpsAlGqpQY2MRAbiIHQsykNcf5RqDlFNQ5DYX9bfRiq8QIVmwnbqZgV"
    "8QK9VFqd+u0nW55Xp1oMqWZinY/CdZkZfEv6wOa8dKHga87qFRR7w+SyEUIyAbZg2ofpHu"
    "lPydXJRI7I7C6+RHreN4kGyOeLk+7PV9eXIJNiClkVl6dvOEX74UB4zit0X+jUmJjFF9oQ"
    "sIqM3vwVVvj2xqS2jbBCI33sy8cYb/UK+AQK2uRcoh+kD31b2Iq6E1Wl7FUpeal/x6yZay"
    "WWbhcqU9d/UBew7hH2OIY3QYkb6kKDGLx16woY/mTHMPAv2HoMY7cN72kC3j1oiANLvXmk"
    "+effPp4Rn5kekxhCbo4ENxlmLI4k79U1bTEECX1I7xmGsSsb6q1LLRDoiTPxJRlz807Fu+"
    "/8TE3WF+KOfIbRAm93wV34oHOXjOE74COEB/+G1OV/qo/aVRoDc01vOsaIdNyDG+G/gsL/"
    "hu/ArBi4G7hRJFhCykAcpamhcrX6tFLR5bSMipWkq4aitfVZJ6Ks4RHZrej45/nyXpXOcL"
    "YuqS+FJdxjou5J/3J9EdrAfObd67QBpS/affeuwOyAWvlX7WJZcn5E5IQ0J87CbbrLHnO2"
    "01QLFebLSpz9Z793F8+FmWJ7cfXpl7B6coIksyMoQWw5BsxpG+iXgL5xxNfM3lPEER/oUk"
    "twPU5ZQ65vCZcLBToFSnFpS67fJJHbCv5qM0o5q22MpomneTr+w5ndh/3M+I/CF2tXDeCi"
    "ZtjY0Hp+7McKwxX0lV83ko1bWdEKkeK9hcEKumLPh5oFrbaqKqHEAY7w1/jX7AIyKcRdji"
    "aUGSQe3EI4DQDGtpo48Re1ESY4UhDdBFWTvTsd0ugHU7G47VXXr6FRcPURF/fUnmSYnfJV"
    "7BlBLeBtNOzKsKJmGvazfP+rk3YumcXpqS36WbLOvHChpONgtV4f6hWUc7iD7k/lm73nFh"
    "P+HvpyJXPlawANcPXT9w6oQ3aKEL2kiiyD6pgYxh2bhhe+/uCPaOfd0Y/tH2C9+rGJnKyk"
    "YAT8KrN9B9Vr5zj9rkge4e/y8wh/l84jrGeHxqgEwkm6Wuzk6xaUBhwap04poKM0mwNZr9"
    "etjeC8Fkecz//MgDn/UFhQvbFfZShP2VdLnHKXetMcjTT7con+VGrH2pYBugCt08A7P5Mg"
    "YVCenn86uf5ntoh/muHNP/1n9+ykEfIbIf8lhfwT5nFz1MqQ8IOSheI9nddZ5/2OjdC9Sa"
    "E7N61BvrSSn9egDhLhWiQVnFQlEA6q1xDdt/v7RaJC9/fzo0KxLFO/SSO8MFYxJNl8mOLL"
    "SDH1uAbr2/8DswdqtA=="
)
