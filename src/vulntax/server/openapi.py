"""The service's OpenAPI schema, as committed in ``docs/openapi.json``.

Regenerate the committed file after changing a route or a request/answer model::

    python -m vulntax.server.openapi docs/openapi.json

A test fails while the committed file differs from what the code serves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def openapi_schema() -> dict[str, Any]:
    """The schema served at ``/openapi.json`` (it does not depend on the model)."""
    from vulntax.server.app import create_app

    schema: dict[str, Any] = create_app(None).openapi()
    return schema


def render() -> str:
    return json.dumps(openapi_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m vulntax.server.openapi OUT.json", file=sys.stderr)
        return 2
    Path(args[0]).write_text(render(), encoding="utf-8")
    print(f"wrote {args[0]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
