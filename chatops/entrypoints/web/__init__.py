"""The read-only web view (`/ui/`) and its JSON (`/api/`), DESIGN §11."""

from chatops.entrypoints.web.app import web_routes
from chatops.entrypoints.web.common import WebDeps

__all__ = ["WebDeps", "web_routes"]
