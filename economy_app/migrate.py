"""Run Alembic migrations programmatically (``economy db upgrade``)."""

from __future__ import annotations

from alembic.config import Config

from alembic import command
from economy_app import config as app_config


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(app_config.PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(app_config.PROJECT_ROOT / "alembic"))
    cfg.attributes["database_url"] = url or app_config.database_url()
    cfg.attributes["skip_logging_config"] = True
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
