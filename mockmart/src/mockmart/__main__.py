import sys

from mockmart.cli import main

sys.exit(main())
