"""The WSGI entry point for any WSGI server: `service.wsgi:app`, configured from the
environment (`amends serve` builds its app the same way, in gunicorn's master)."""

from service.config import Settings
from service.web.app_factory import create_app

app = create_app(Settings.from_environment())
