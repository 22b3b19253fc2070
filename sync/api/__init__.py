"""The admin HTTP API (FastAPI), served by ``func.AsgiFunctionApp`` in Azure and by uvicorn locally."""
