"""The ``gridmap`` command line: the app and its commands, one module per group."""

from gridmap.cli import (
    data_commands,
    db_commands,
    department_commands,
    engine_commands,
    job_commands,
    office_commands,
    repair_commands,
    serve_commands,
    tiles_commands,
    user_commands,
)
from gridmap.cli._app import app

__all__ = ["app", "main"]
_COMMAND_MODULES = (
    data_commands,
    db_commands,
    department_commands,
    engine_commands,
    job_commands,
    office_commands,
    repair_commands,
    serve_commands,
    tiles_commands,
    user_commands,
)  # importing a module registers its commands on app


def main() -> None:
    app()
