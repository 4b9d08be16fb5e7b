"""The read-only web view (`/ui/`) and its JSON (`/api/`), DESIGN §11."""

from chatops.entrypoints.web.app import WebDeps, web_routes

__all__ = ["WebDeps", "web_routes"]
