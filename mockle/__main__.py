import sys

from mockle.cli import main

sys.exit(main())
