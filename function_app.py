"""Azure Functions entry points. Each trigger only parses its input and delegates to a service.

The admin API is one ASGI function (``http_app_func``) covering every route under ``/api``; timer and
queue triggers of the sync workloads are added to this same app.
"""

import azure.functions as func

from sync.api.app import create_app
from sync.settings import load_settings

settings = load_settings()  # fail at start-up, naming every bad setting

app = func.AsgiFunctionApp(app=create_app(settings), http_auth_level=func.AuthLevel.ANONYMOUS)
