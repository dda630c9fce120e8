"""``python -m services.watchdog``."""

from services.watchdog.service import WatchdogService

WatchdogService().run()
