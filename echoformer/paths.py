"""Where the project's files live (the toolkit runs from a checkout, installed editable)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = PROJECT_ROOT / "conf"
