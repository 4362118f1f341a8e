import sys

from secmlops_core.cli import main

sys.exit(main())
