"""Sentinel's fixed vocabularies: severities, tactics, entity types and their identifiers.

Kept as data so validation, the alert builder and the docs read the same lists.
"""

from __future__ import annotations

SEVERITIES = ("Informational", "Low", "Medium", "High")

TACTICS = (
    "Reconnaissance", "ResourceDevelopment", "InitialAccess", "Execution", "Persistence",
    "PrivilegeEscalation", "DefenseEvasion", "CredentialAccess", "Discovery", "LateralMovement",
    "Collection", "Exfiltration", "CommandAndControl", "Impact", "PreAttack",
    "ImpairProcessControl", "InhibitResponseFunctions",
)

#: entityType -> allowed identifiers (Sentinel entity-mapping reference).
ENTITY_IDENTIFIERS: dict[str, tuple[str, ...]] = {
    "Account": ("Name", "FullName", "NTDomain", "DnsDomain", "UPNSuffix", "Sid", "AadTenantId", "AadUserId",
                "PUID", "IsDomainJoined", "DisplayName", "ObjectGuid", "CloudAppAccountId"),
    "Host": ("DnsDomain", "NTDomain", "HostName", "FullName", "NetBiosName", "AzureID", "OMSAgentID",
             "OSFamily", "OSVersion", "IsDomainJoined"),
    "IP": ("Address",),
    "URL": ("Url",),
    "CloudApplication": ("AppId", "Name", "InstanceName"),
    "AzureResource": ("ResourceId",),
    "File": ("Directory", "Name"),
    "Process": ("ProcessId", "CommandLine", "ElevationToken", "CreationTimeUtc"),
    "DNS": ("DomainName",),
    "FileHash": ("Algorithm", "Value"),
    "Malware": ("Name", "Category"),
    "MailBox": ("MailboxPrimaryAddress", "DisplayName", "Upn", "ExternalDirectoryObjectId", "RiskLevel"),
    "MailCluster": ("NetworkMessageIds", "CountByDeliveryStatus", "CountByThreatType", "CountByProtectionStatus",
                    "Threats", "Query", "QueryTime", "MailCount", "IsVolumeAnomaly", "Source",
                    "ClusterSourceIdentifier", "ClusterSourceType", "ClusterQueryStartTime",
                    "ClusterQueryEndTime", "ClusterGroup"),
    "MailMessage": ("Recipient", "Urls", "Threats", "Sender", "P1Sender", "P1SenderDisplayName",
                    "P1SenderDomain", "SenderIP", "P2Sender", "P2SenderDisplayName", "P2SenderDomain",
                    "ReceivedDate", "NetworkMessageId", "InternetMessageId", "Subject", "BodyFingerprintBin1",
                    "BodyFingerprintBin2", "BodyFingerprintBin3", "BodyFingerprintBin4", "BodyFingerprintBin5",
                    "AntispamDirection", "DeliveryAction", "DeliveryLocation", "Language", "ThreatDetectionMethods"),
    "SubmissionMail": ("SubmissionId", "SubmissionDate", "Submitter", "NetworkMessageId", "Timestamp",
                       "Recipient", "Sender", "SenderIp", "Subject", "ReportType"),
    "RegistryKey": ("Hive", "Key"),
    "RegistryValue": ("Name", "Value", "ValueType"),
    "SecurityGroup": ("DistinguishedName", "SID", "ObjectGuid"),
    "IoTDevice": ("IoTHub", "DeviceId", "DeviceName", "IoTSecurityAgentId", "DeviceType", "Source",
                  "SourceRef", "Manufacturer", "Model", "OperatingSystem", "IpAddress", "MacAddress",
                  "Protocols", "SerialNumber"),
}

#: Sentinel's lower-case ``Type`` of each entity in a SecurityAlert ``Entities`` array.
ENTITY_KIND = {
    "Account": "account", "Host": "host", "IP": "ip", "URL": "url", "CloudApplication": "cloud-application",
    "AzureResource": "azure-resource", "File": "file", "Process": "process", "DNS": "dns",
    "FileHash": "filehash", "Malware": "malware", "MailBox": "mailbox", "MailCluster": "mail-cluster",
    "MailMessage": "mail-message", "SubmissionMail": "SubmissionMail", "RegistryKey": "registry-key",
    "RegistryValue": "registry-value", "SecurityGroup": "security-group", "IoTDevice": "iotdevice",
}

AGGREGATION_KINDS = ("SingleAlert", "AlertPerResult")
MATCHING_METHODS = ("AllEntities", "AnyAlert", "Selected")
ALERT_DETAILS = ("DisplayName", "Severity")
ALERT_DYNAMIC_PROPERTIES = ("AlertLink", "ConfidenceLevel", "ConfidenceScore", "ExtendedLinks", "ProductName",
                            "ProviderName", "ProductComponentName", "RemediationSteps", "Techniques",
                            "SubTechniques")

#: Sentinel limits enforced by validation.
MAX_ENTITY_MAPPINGS = 10
MAX_IDENTIFIERS_PER_ENTITY = 3
MAX_CUSTOM_DETAILS = 20
MAX_QUERY_LENGTH = 10_000
MAX_ALERTS_PER_RUN = 150
MAX_ALERTS_PER_INCIDENT = 150
