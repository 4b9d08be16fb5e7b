"""The repositories of services.ports on SQLAlchemy: rows in, frozen domain values out.

One module per aggregate family, gathered here so that the unit of work (and anyone
else) imports them from one place:

- `repositories_releases`: releases;
- `repositories_deployments`: deployments, with the slots that keep them apart;
- `repositories_policy`: approval votes and locks;
- `repositories_audit`: the audit log;
- `repositories_alerts`: alerts (incidents);
- `repositories_chat`: which chat message stands for which subject;
- `repositories_leases`: named leases;
- `repositories_sql`: the statement helpers they share.
"""

from __future__ import annotations

from chatops.adapters.db.repositories_alerts import SqlAlertRepository
from chatops.adapters.db.repositories_audit import SqlAuditLog
from chatops.adapters.db.repositories_chat import SqlMessageRepository
from chatops.adapters.db.repositories_deployments import SqlDeploymentRepository
from chatops.adapters.db.repositories_leases import SqlLeaseRepository
from chatops.adapters.db.repositories_policy import SqlLockRepository, SqlVoteRepository
from chatops.adapters.db.repositories_releases import SqlReleaseRepository

__all__ = [
    "SqlAlertRepository",
    "SqlAuditLog",
    "SqlDeploymentRepository",
    "SqlLeaseRepository",
    "SqlLockRepository",
    "SqlMessageRepository",
    "SqlReleaseRepository",
    "SqlVoteRepository",
]
