import sys

from mockmart.system.cli import main

sys.exit(main())
