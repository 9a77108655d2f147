"""``python -m ml_platform_cli``: the same as the ``ml-platform`` console script."""

import sys

from ml_platform_cli.main import main

sys.exit(main())
