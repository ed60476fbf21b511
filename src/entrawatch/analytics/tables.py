"""Tables analytics writes: SecurityAlert, SecurityIncident (and the TI table, defined in ``ti``).

Columns follow Sentinel's tables of the same names so that KQL written against Sentinel
(``SecurityAlert | where ProviderName == ...``) runs here unchanged. entrawatch adds a few columns
Sentinel does not have, all needed for deterministic re-runs: the rule id, the evaluated window,
and the de-duplication key. ``register()`` is idempotent and called by everything that touches them.
"""

from __future__ import annotations

from entrawatch import schema
from entrawatch.schema import Column, Table

ALERT_TABLE = "SecurityAlert"
INCIDENT_TABLE = "SecurityIncident"

_ALERT_COLUMNS = (
    ("TenantId", "string"), ("TimeGenerated", "datetime"), ("DisplayName", "string"), ("AlertName", "string"),
    ("AlertSeverity", "string"), ("Description", "string"), ("ProviderName", "string"), ("VendorName", "string"),
    ("VendorOriginalId", "string"), ("SystemAlertId", "string"), ("ResourceId", "string"),
    ("SourceComputerId", "string"), ("AlertType", "string"), ("ConfidenceLevel", "string"),
    ("ConfidenceScore", "real"), ("IsIncident", "bool"), ("StartTime", "datetime"), ("EndTime", "datetime"),
    ("ProcessingEndTime", "datetime"), ("RemediationSteps", "string"), ("ExtendedProperties", "dynamic"),
    ("Entities", "dynamic"), ("SourceSystem", "string"), ("WorkspaceSubscriptionId", "string"),
    ("WorkspaceResourceGroup", "string"), ("ExtendedLinks", "string"), ("ProductName", "string"),
    ("ProductComponentName", "string"), ("AlertLink", "string"), ("Status", "string"),
    ("CompromisedEntity", "string"), ("Tactics", "string"), ("Techniques", "string"), ("SubTechniques", "string"),
    ("Type", "string"),
    # entrawatch additions
    ("RuleId", "string"), ("RuleName", "string"), ("WindowStart", "datetime"), ("WindowEnd", "datetime"),
    ("DedupKey", "string"), ("CustomDetails", "dynamic"), ("Events", "dynamic"), ("EventCount", "long"),
)

_INCIDENT_COLUMNS = (
    ("TenantId", "string"), ("TimeGenerated", "datetime"), ("IncidentName", "string"), ("Title", "string"),
    ("Description", "string"), ("Severity", "string"), ("Status", "string"), ("Classification", "string"),
    ("ClassificationComment", "string"), ("ClassificationReason", "string"), ("Owner", "dynamic"),
    ("ProviderName", "string"), ("ProviderIncidentId", "string"), ("FirstActivityTime", "datetime"),
    ("LastActivityTime", "datetime"), ("FirstModifiedTime", "datetime"), ("LastModifiedTime", "datetime"),
    ("CreatedTime", "datetime"), ("ClosedTime", "datetime"), ("IncidentNumber", "long"),
    ("RelatedAnalyticRuleIds", "dynamic"), ("AlertIds", "dynamic"), ("BookmarkIds", "dynamic"),
    ("Comments", "dynamic"), ("Tasks", "dynamic"), ("Labels", "dynamic"), ("IncidentUrl", "string"),
    ("AdditionalData", "dynamic"), ("ModifiedBy", "string"), ("SourceSystem", "string"), ("Type", "string"),
    # entrawatch additions
    ("RelatedEntities", "dynamic"), ("AlertCount", "long"), ("GroupingKey", "string"), ("RuleNames", "dynamic"),
)

ALERT = Table(ALERT_TABLE, tuple(Column(n, t) for n, t in _ALERT_COLUMNS), key=("SystemAlertId",))
INCIDENT = Table(INCIDENT_TABLE, tuple(Column(n, t) for n, t in _INCIDENT_COLUMNS), key=("IncidentNumber",))


def register() -> None:
    """Add SecurityAlert and SecurityIncident to the canonical catalog (idempotent)."""
    schema.register_table(ALERT)
    schema.register_table(INCIDENT)


register()
