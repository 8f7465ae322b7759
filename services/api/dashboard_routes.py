"""Serves the dashboard (``services/dashboard``) at ``/dashboard/``; ``/`` leads there."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles


def mount(app: FastAPI) -> None:
    folder = Path(str(resources.files("services.dashboard")))
    app.mount("/dashboard", StaticFiles(directory=folder, html=True), name="dashboard")

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/dashboard/")
