"""The Django project of Shuping: settings, URLs, ASGI application and the CLI."""
