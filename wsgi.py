"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

from broker import create_app

app = create_app()
