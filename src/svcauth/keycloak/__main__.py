"""``python -m svcauth.keycloak``: fetch, start, stop and inspect a local Keycloak."""

import sys

from svcauth.keycloak._local_cli import main

sys.exit(main())
