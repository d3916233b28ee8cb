"""Routes of the policy owner's workbench (filled in by its feature)."""

from __future__ import annotations

from flask_smorest import Blueprint

blueprint = Blueprint("versions", __name__, url_prefix="/v1",
                      description="The policy owner's workbench")
