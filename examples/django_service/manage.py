#!/usr/bin/env python
"""Run the example: ``python manage.py runserver 127.0.0.1:8000`` (see README.md)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notifications_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
