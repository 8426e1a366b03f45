"""``python -m tests.infra.check``: fail fast, saying what to start, when a service the tests need is missing."""

from __future__ import annotations

import sys

from tests.infra.postgres import require_postgres
from tests.infra.services import ServiceUnavailableError, require_redis, require_redis_server_binary


def main() -> int:
    problems = []
    for check in (require_postgres, require_redis, require_redis_server_binary):
        try:
            check()
        except (ServiceUnavailableError, RuntimeError) as exc:
            problems.append(str(exc))
    for problem in problems:
        print(f"make test: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
