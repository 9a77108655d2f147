"""``python -m workloads.monitoring <command>``: what the processing jobs run."""

import sys

from workloads.monitoring.cli import main

sys.exit(main())
