"""Entry point of ``python -m workloads.ops``."""

from workloads.ops.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
