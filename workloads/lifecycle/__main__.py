import sys

from workloads.lifecycle.cli import main

sys.exit(main())
