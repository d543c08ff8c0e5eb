"""Where Hearth keeps its data. Resolved here (app/) and passed down to the engine as Paths.

`HEARTH_HOME` overrides everything (tests point it at a temporary folder).
"""
from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "Hearth"
ORG_NAME = "Hearth"


def data_dir() -> Path:
    override = os.environ.get("HEARTH_HOME")
    if override:
        path = Path(override)
    else:
        from PySide6.QtCore import QCoreApplication, QStandardPaths

        if not QCoreApplication.applicationName() or QCoreApplication.applicationName() == "python":
            QCoreApplication.setApplicationName(APP_NAME)
            QCoreApplication.setOrganizationName(ORG_NAME)
        path = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_path() -> Path:
    return data_dir() / "hearth.sqlite3"


def models_dir() -> Path:
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def attachments_dir() -> Path:
    path = data_dir() / "attachments"
    path.mkdir(parents=True, exist_ok=True)
    return path


def logs_dir() -> Path:
    path = data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path
