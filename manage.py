#!/usr/bin/env python
"""Django's command-line utility; configuration errors end in one line naming the setting to fix."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings.base")
    from webapp.config_errors import exit_on_config_error

    with exit_on_config_error():
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
