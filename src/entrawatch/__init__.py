"""entrawatch: detections for Microsoft Entra ID sign-in and audit logs, all four sign-in streams.

The package is a pipeline of narrow, typed stages (see ``docs/architecture.md``):
readers -> normalize -> warehouse -> KQL compiler -> analytics -> alerts/incidents -> outputs.
"""

__version__ = "0.1.0"
