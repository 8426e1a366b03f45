from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "recurrences" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "cron" VARCHAR(64) NOT NULL,
    "timezone" VARCHAR(64) NOT NULL,
    "until" TIMESTAMPTZ,
    "remaining" INT,
    "paused" BOOL NOT NULL,
    "next_run" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "post_id" INT NOT NULL UNIQUE REFERENCES "posts" ("id") ON DELETE CASCADE
);
COMMENT ON COLUMN "recurrences"."cron" IS 'five-field cron line, read in ``timezone``';
COMMENT ON COLUMN "recurrences"."until" IS 'no runs after this instant';
COMMENT ON TABLE "recurrences" IS 'The rule of one series and where it stands.';
        CREATE TABLE IF NOT EXISTS "recurrence_runs" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "run_at" TIMESTAMPTZ NOT NULL,
    "version" INT NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "series_id" INT NOT NULL REFERENCES "recurrences" ("id") ON DELETE CASCADE,
    "post_id" INT NOT NULL UNIQUE REFERENCES "posts" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_recurrence__series__dada48" UNIQUE ("series_id", "run_at")
);
COMMENT ON COLUMN "recurrence_runs"."version" IS 'the template version the run''s text was copied from';
COMMENT ON TABLE "recurrence_runs" IS 'One run of a series and the post that carries it (replaced if the run is re-created).';
        CREATE TABLE IF NOT EXISTS "posting_slots" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "timezone" VARCHAR(64) NOT NULL,
    "weekly" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "account_id" INT NOT NULL UNIQUE REFERENCES "social_accounts" ("id") ON DELETE CASCADE
);
COMMENT ON TABLE "posting_slots" IS 'An account''s weekly slots, as ``[weekday (0 = Monday), minute of the day]`` pairs in ``timezone``.';"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        DROP TABLE IF EXISTS "recurrence_runs";
        DROP TABLE IF EXISTS "recurrences";
        DROP TABLE IF EXISTS "posting_slots";"""


MODELS_STATE = (
    "eJztXf9T2zgW/1c0+aUwkzIQKO21dzcHXXbLbSk9SO92tuzEwlYSD7aUtWUgu9v//d6Tvz"
    "t2sCEJtuuZTgFJT5I/+va+6enPni0MZrk776dUnhqMS1POe2/Jnz1ObQa/5Ob3SY/OZnEu"
    "Jkh6bSkCHUqOTL+oyVQevXalQ3UJ2WNquQySDObqjjmTpuBI9EHcEUqQlFCDziRzCHbAhU"
    "Sb2dfMeUu2NM21qH6jaX2iaV92BwfHJ68/ftC07b7KmzLL8vOuxTWkXnmD3cEhNm8IHdo3"
    "+WTtLXnc/N1jIykmTE6ZA+19/doLmsF8dg+/cGoBPr3ffoMEkxvsHkCCgvjn7GY0NpllpE"
    "YAykKWSh/J+UylnXL5oyqIn3c90oXl2TwuPJvLqeBRaZNLTJ0wzhwqGVYvHQ+HgXuWFQxc"
    "ODL+N8RF/C4maAw2pp6Fg4nUfgfitN5o9Ol8OLo8GY5GvYWBDikSIxIk6YLjJIGuuurrJ9"
    "iFl4O9g9cHb/YPD95AEdXNKOX1N7/pGBifUMHzadj7pvKppH4JhXEMamJQ0sjCRHfyoU2Q"
    "ZPCFjmfxDdFcBnCYECMcr45NQGzT+5HF+ERO4c+9wyV4/vfo4v2Ho4utvcNtbFDAYvYX+6"
    "cgZ6CyEPIY4uRkrwBzhqyNUA/elMF68KYYbMxLo+1vXrlYF24WKZqH94wmAL2CbQM34vFN"
    "7q7hA7aI8I/CYeaE/8zmCuhT6BPlOsuBNThOz6KKGgbwt3AOhanxueDQu+j0Sk8t+H74ai"
    "b9lX90+f7oh5Oewvkajtk76hijFOCYIwYikxKVXcyyB3Y2hXI6UfDgd2Cv08jnsDjxmBQz"
    "N/5nlWRqjsgMygpO4B+wA0Qyau+Qc84CToPYdE6uGbnh4g5KCOKyW5gLluJOXLKlGI0+uU"
    "RepE+GgODEofb2zgJPs86GcliajnF5RsZF/axwnIblV3OOrgPanjsVjiRTyg0L6mI7kx0C"
    "jHV2lpc5WQ8PShyshweF5ypmpY9Vw3RnFp2PqsKepevYmHJsjDRt9ofglbBO0mwO596X4f"
    "veRoBe/azWHYZojKhcxPkHyEFE87FOU2bQNgLSnfCXJs5x+EDjnFvzYHNbAv3w9Ozkcnh0"
    "9hmbs133d0vhdzQ8wZyBSp1nUreyElRUCfnf6fADwT/Jr+efThS8wpUTR7UYlxv+2sM+UU"
    "+KEZznI2ok9uEwNURtkZkt5rqSB3dSe5OeHscB7Y8/XzCLKnQLudys0qhhU6GI100tJUdY"
    "T4XJZzwvoKK2goQT+YkgfYYq2gqPwXTThYqfCNHRbOaIW2r9EFTXJrjWLxKq9VcoFoar8y"
    "HRcBTtBw/Kh8Wg5KqRY90DNtGpj59VCnOC6VCWRQ3Lr4s93Si2a2ZOJw7lj2NO05Qdc1p3"
    "5rTTX3f665owGP2m6K8vhW5S60jXhac6v8CvpAssZVlcVXRE/bIltdqoVg4oiFI5MzIDzn"
    "QsHDtQ3m1pmk1dKQzBfTP5FJXNxr/Gwg1Tc5TYK6r3il/BT91hSu6ET9A0YqJ1/9+X558I"
    "tOjZkEG2pLhh3O2TGcBMTAN+u6YuI18uPm6TGzaThHHdmc9gYhMqCexzslOH15ARC6dIFW"
    "YsSdNCvez+oARHtj8o5MgwK82R+ar5KhDHFDW2O6CpDD+ReC6scpOTly+leIzZYS2a8MQW"
    "toj8Sbg5Ddl9wQ6SoX/UOAQo12WeL2N3T34ZpjjdENuts6NftlPc7sfzTz+FxRNj8f7j+X"
    "HWGIFnxIjdz0zY/x8hj+TRr0AqadCo1EgICTFZKoUwjhjnHNTHAiR4ygtclmKqzPBeA9m6"
    "DpRwC9zskB6fn39MjebxaXYlfTk7PoHtTg0jFDJ9vjk8yzsr1Pcn6D/KCgXiinnLnCdboX"
    "7w62mVBaqShJm0w1imPi+GE2SwoYD/ytsaPkc1NvLQWm6XcS2xzGxVHi00XkFvLsP6WoJV"
    "RdVFtBBztBbJRVqssEhvCeV0Fbh9hQqFQL/wVnnJAbxS/YK+OlTqIM6D0A+Ie3gbgIPcT+"
    "6EcwOpM+/aMt0pc/O1FittAfUXRwvJULc1J3SM1xVscQuNq3odcUfGjrCJpqlaDU1D9z5N"
    "CwihHKo/VNeuOAygYSI01CJfPuNZQLawFt2ipr3dJ66ADqHUoEAGkUg4xPBmsMBxqhLVAr"
    "GZ66LKxBDQKy4ktlGkGfmqzg41VIE6Kmu1+gqCCFSuYAViGpTo9Ceb0p9E8JeV7COCDXpa"
    "3VETt8/eujBe80WIYGZX5HFjqk5krLPISKVk9iyPTyjcnJIkmzNb7dZ6i6rFvaGaLZP0xj"
    "R49arEzgSlCrcmlZcG23OsKiAHxdsH7t7uoIwjAxYr3vlVZhpfi7pyxBxH5Fhdi3W3aao2"
    "oL1p1a1pwA4rJOP6fHTDckTe4jmeQ9pCK9EanMpRjGDG6LoS2mmqNkz1TdiGAtAeoTlNUX"
    "acZZ05S1+kf8Qgpwi7Ma7zGIcanscMc5a2G+k6j7Q3Mx5p7UpTdtauGg/7ggkhUHxW82tN"
    "E3WOrTlKAhymaqAmKDpEH3YVDjX3T3QUbtm1rX7GTTgxqfKdhHP2ghWguuDj21J40xthCu"
    "EL2JkvTt8Pn8sPW03sHENmOOGLjZjRZchSEUTQtoimwrspcxgxJcG5Ybg75FS6RBljMIoH"
    "n4Q2Qjl1hDeZkrdjj+tvtaBXljlm+hyOvx1q3OLc0nKjiKytMd8rWzjmxOS+Q7bfhDKOOn"
    "QsiY6OmMqWuRUE2uqrtjiD+QPtAIfgmyjhbIa56BIK5A6bCQdtkzimVxwmklBVulgZzK5b"
    "5rjKNL9DNI0GLgsjh439PmDRoLEXLjENIsZ+WlAyNHaqdk15xXXKMY4KM0zpe4zOLKqzzj"
    "G8hoZNye5zdtpilWtYvhWqvk1rW21YEXQRbbxyUXRzKyDISjOmLslfBMTatR1rvb/jZoWI"
    "kmvPtKTJccdy5T/XZV5eMhgI0PLByOKekVCwguxg1M+kv7Cv9NSevy7AM2azMoruJVadRZ"
    "tOZ89vs54GeYbAma/kkZyg2JxkuVfrczkh9IRcl8VuWY6tuVgJskBYW3DVTSLVTcIxvHDg"
    "r0RScT02D73Pblc5lmOKepzL2GxrzuWk/FFlULJ0Txqa5hwcaxmD7spJ8e7TTCV8mdgSne"
    "mlbaNeyvTiwWhVjCiSounMBA+bCXzAVqDSbn1EkdTUqqzK7q7FdUH16nKL0GG65zgsWM5P"
    "vRt3kaqtkezrA7cI1WIdOV6OKFYdrktV24VXZiI2Ba2KpreFJZljhstbtsUmuUjESm0a5e"
    "4X+pGiXriRtI/xgvAqoK8QCO4FBjqi/AuE1apAW9rQv10Iw0pu2JzY9Ea9YOSwmZJSiG6Z"
    "+g2JPJklobojXFfFMaKOdP37iS7DK4EEJG3mSPhG01LXEq+4uhVILYs58Ld7Bw2TO1NOfX"
    "Nd1EcLecc5dg92BOEYD18DTGjKIq2Ojz2U7CJaPqe9rCFqz9ojnLj6UVHh+Qx6zgahaSQ2"
    "8rKGrSRNK+y667ZswYbu5kFcbDaPKdpwdWPTdvNOHVk81ZupmCqjjgw5noqqqTRVd0h0Xs"
    "GdV3A9BNj+k7yCQ/nn6bC2X4ea3gNr5RB85BmmPOEyP75RIre/VBOB5UaWmJRXQKgQPPA/"
    "xTfUZjMYeWOHXIg730VW+enic3+BmM+Md74YD4KginjssLHnMjdy7JViIQbqmpq54lvQwm"
    "SC6gXTf7nQNieOUoC5vrMv1MgJVW/DvbxzTCnhz8v/fAzDF+mUv8DgzJjFyNR0pXDm63DH"
    "PTYn34uG4W+Dwf7+68Hu/uGbVwevX796sxudIYtZyw6T49Of8DxJcVklAjpv/Ah/WAZpnp"
    "4neelEVpSaY4oWyswHZW7jHxRfxj9YuIu/YXfbzUjMyqMNF9aL8N6HH3tO3Y6I5sfzKyw2"
    "r7WsmcZi9Wo2Sc0crWWxe1pM0fkMLlcQdf5qnYKonIJIl5UdlxIk3b72sNsSwrVJibtm8J"
    "a/gCsf77O0Tmn73JPX4v7Mv5/ZyxG40wX6y2RuoYqWEriLAX5Y4PzaC+6aYkvB1VZ/CIN4"
    "u9XD33Zi6abE0sTQlZajYpIWClKrD5ObWBJlIU6QtBHidYSO86/SVwE5pqixwFoniOuowm"
    "oc85YClM4tkTdpi6XSBMnmxdLn8VDoBNBOAE2Ve7wAmmJJK457lra77V6fO1L+SC/Ixc9k"
    "ME0/IbTEiTt+ZKiEC7d646j0CzGaptwuo1di8VjAMEB7+I7KPtG0P6+Ct4DdK/yinZ0d+K"
    "gr9aB7OgX7hAlXPcrnV72/4KdlXfW+adq7BXvqRlrFiEuG6TBd+s2UrBVI35K7qSA2nYcP"
    "0CjvbxCTo8hIO+qRXZ/7jmMpJSMuBQGeolBKDoO160qXjEVoRvDf+kXrMc5qZlzxLdXHQH"
    "DyP8u1MLRTD/sZtOenv9/dG+yrD91+F3VPKDs1m6PNYr4QYuqOuvBRRhevqY7+5/6CqMLi"
    "xRQdh/cEDs/fIipZfCKKzuKz8uFwmA3fP1Lm1pF/QafK0zJF5BuMnXJwsNuUp2YCtK4ZHE"
    "rs8Wgv0m8O7v3DxqBdqOAr3mqKFXxd2JMKm0oXAKN4kjdTis8R7moTezy72BrPtz5JYC4R"
    "/zm8/V3S6Fw1+nOtxqO85bkw9HPkRr86XcQQNi+nl6OC8DP6yzQPuPE55dQNTzMfj81Yq+"
    "Z4vDMX19dcfAMfX8XGFpZvoRVzf1DCwrY/KDSwYdZz29dKINy0M62BIU+f4MYcBs9Q2kC1"
    "YSttoMsk6iPfob7QiiJs+DdazAkHoc7I6m43MyKbjR1QM+lo5VK+f1YuoLlc8ompWij1NF"
    "fKWTRWJtmiKgOcpOuMlHUeYWSzKimog/KdenolmqSa2IuBe5aBP+8FG/dyhLVMif4yqU2H"
    "sqPgfReMrLwGAa7I4RfjOD8p2FUnx21Kjuvcfju331b4pObGnC9GOD/UfIduAbrhOZK3WR"
    "eDnKaqM9a9S/TCIdLtkyGz2MShNol7T668we7gsKSk3Lm4t2DCdwbFYvTbZVCsCfOfiBKd"
    "w/inY0gXM/1x5OqS7qEYZ9fxLIbOmehc6Mdyzn0jM7v9VaH1n8fk7F5imOjYoRJToA4eht"
    "1xCRe+PnPOJNn6BNW+xSRb4GOYHne33xFNc5gNsxF6ARVNxR2x0TWUYzXq6VHl2OlK07Lw"
    "LcvATT9RmWXaptzunCRr6CSpO9VCuYTla81bjM1b9lJ9EcH+wvzjUCfuohgVStPwHPgDJq"
    "emPYbDOCwTc+SwOObI4ULMkbA/lRiMBE2dB+ORPMbqQfa4zAtD8gBvERI1Rp3bg/0W9+0o"
    "vI6JodDwVJDlJntzuYtFNW90blU4OVI0nfEr7+6k57I8HaIQFqO86PZkSJSB9Bqo1rVbRS"
    "mbVZMfn59/TK2Q49Ns5OYvZ8cnICKppQGFTMnysQ4ZuKr7VpKuMVvXd2mJ6q7DFm9czZR7"
    "u/cDv8dRL+M+XQM3s8YLsxW0Ryl/nSc+2lblkay6ragiB+mc19oeiste0a/8sVHZG+FP/m"
    "BM9tXpKuPZl6OqTE3NMprKUbgcykUDRzWfGBOaVDdGXpBKjahTR+WYkmw5bGZRnRnEHKtS"
    "SG3iM2EvA35lO//FsrW0kutC4UZPXSZd3jsN5DNpIDtfylbLN+32BJfMho1IspQ3OMzNFy"
    "5k3fsBInQxM2GnGjvCLqluXvUt2U7EbJmwUUbEDB6JrXRmpWjqvPieT/nZiXBPxnNBhMtO"
    "2kV0K4dRrvQGdN0mbVkJJLVcS8ggpe8Vd8JfjYQ/xBG6fGmJYAlm5L9Ufn+ZCDjzS47cqO"
    "iDAuARD8NqAUtzx9iNNSeKvE8oBgD7imkGnZOtXfIPciY4/L7dJ7bJPan8VPwnm+a/aRqZ"
    "UdN/lylpgV+UBjfTZOeIUi8xsPOB2IAPhL+aFiEuvvgUU9Tj6hO21+irT50VqNxKaKZgVs"
    "YK9FxBdNp3njQ8ik69BqSeYXSOQMTRp3lsb5CzlOGlcZl1BtLpOMVNcoqFGuViRrFYpdwG"
    "PnHw6lUJRhFKFT+DiHmZVz5hUVVAOCjeQnT3dnfL3Hba3S2+7YR5GZW84JLlHTlLAlfGJF"
    "104ibFG/j2fy04wU8="
)
