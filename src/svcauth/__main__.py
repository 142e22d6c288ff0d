import sys

from svcauth._cli import main

sys.exit(main())
