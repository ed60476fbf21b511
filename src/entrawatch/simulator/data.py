"""Built-in reference data for the simulated tenant: geography, networks, applications, error codes.

Why a hand-made table instead of a GeoIP database: the simulator must be deterministic, offline and free of
licensing strings, and detections only need *consistent* geography (the same address always maps to the same
country, city, coordinates and ASN). Addresses come from non-routable ranges so nothing here points at a real
network: residential/office ISPs get slices of the benchmarking range 198.18.0.0/16, cloud and hosting providers
slices of 198.19.0.0/16, and attacker infrastructure the RFC 5737 documentation ranges (192.0.2.0/24,
198.51.100.0/24, 203.0.113.0/24). ASNs are those of the real providers named, so ASN-based reasoning stays
plausible. Time zones are fixed UTC offsets (no daylight saving), documented in docs/simulator.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    name: str
    state: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Network:
    """One provider's address block in one country: where its addresses geolocate."""

    provider: str
    asn: int
    prefix: str  # first three octets, e.g. "198.18.4"; hosts .1-.254 are used
    kind: str  # "isp", "cloud", "hosting", "vpn", "attacker"


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    utc_offset: int
    cities: tuple[City, ...]
    isps: tuple[Network, ...]
    domain_suffix: str


def _isp(provider: str, asn: int, third: int) -> Network:
    return Network(provider, asn, f"198.18.{third}", "isp")


#: Countries where the tenant's users live (home countries) and where they travel.
COUNTRIES: dict[str, Country] = {
    c.code: c
    for c in (
        Country("US", "United States", -5, (
            City("New York", "New York", 40.7128, -74.006),
            City("Seattle", "Washington", 47.6062, -122.3321),
            City("Chicago", "Illinois", 41.8781, -87.6298),
            City("Austin", "Texas", 30.2672, -97.7431),
        ), (_isp("Comcast Cable", 7922, 10), _isp("Verizon Fios", 701, 11), _isp("AT&T Internet", 7018, 12)), "com"),
        Country("GB", "United Kingdom", 0, (
            City("London", "England", 51.5072, -0.1276),
            City("Manchester", "England", 53.4808, -2.2426),
        ), (_isp("BT", 2856, 20), _isp("Virgin Media", 5089, 21)), "co.uk"),
        Country("DE", "Germany", 1, (
            City("Berlin", "Berlin", 52.52, 13.405),
            City("Munich", "Bavaria", 48.1351, 11.582),
        ), (_isp("Deutsche Telekom", 3320, 30), _isp("Vodafone Germany", 3209, 31)), "de"),
        Country("FR", "France", 1, (
            City("Paris", "Ile-de-France", 48.8566, 2.3522),
            City("Lyon", "Auvergne-Rhone-Alpes", 45.764, 4.8357),
        ), (_isp("Orange", 3215, 40), _isp("Free SAS", 12322, 41)), "fr"),
        Country("NL", "Netherlands", 1, (
            City("Amsterdam", "North Holland", 52.3676, 4.9041),
        ), (_isp("KPN", 1136, 50), _isp("Ziggo", 33915, 51)), "nl"),
        Country("IN", "India", 5, (
            City("Bengaluru", "Karnataka", 12.9716, 77.5946),
            City("Mumbai", "Maharashtra", 19.076, 72.8777),
        ), (_isp("Bharti Airtel", 9498, 60), _isp("Reliance Jio", 55836, 61)), "in"),
        Country("JP", "Japan", 9, (
            City("Tokyo", "Tokyo", 35.6895, 139.6917),
            City("Osaka", "Osaka", 34.6937, 135.5023),
        ), (_isp("NTT Communications", 4713, 70), _isp("KDDI", 2516, 71)), "jp"),
        Country("AU", "Australia", 10, (
            City("Sydney", "New South Wales", -33.8688, 151.2093),
            City("Melbourne", "Victoria", -37.8136, 144.9631),
        ), (_isp("Telstra", 1221, 80), _isp("Optus", 4804, 81)), "com.au"),
        Country("CA", "Canada", -5, (
            City("Toronto", "Ontario", 43.6532, -79.3832),
            City("Vancouver", "British Columbia", 49.2827, -123.1207),
        ), (_isp("Rogers", 812, 90), _isp("Bell Canada", 577, 91)), "ca"),
        Country("BR", "Brazil", -3, (
            City("Sao Paulo", "Sao Paulo", -23.5505, -46.6333),
        ), (_isp("Telefonica Brasil", 18881, 100), _isp("Claro Brasil", 28573, 101)), "com.br"),
        Country("ES", "Spain", 1, (
            City("Madrid", "Madrid", 40.4168, -3.7038),
            City("Barcelona", "Catalonia", 41.3874, 2.1686),
        ), (_isp("Telefonica de Espana", 3352, 110),), "es"),
        Country("SG", "Singapore", 8, (
            City("Singapore", "Singapore", 1.3521, 103.8198),
        ), (_isp("Singtel", 7473, 120),), "sg"),
        # Countries the tenant never lives in: attacker sources and far-away destinations.
        Country("RU", "Russia", 3, (
            City("Moscow", "Moscow", 55.7558, 37.6173),
            City("Saint Petersburg", "Saint Petersburg", 59.9311, 30.3609),
        ), (_isp("Rostelecom", 12389, 130),), "ru"),
        Country("CN", "China", 8, (
            City("Shanghai", "Shanghai", 31.2304, 121.4737),
            City("Beijing", "Beijing", 39.9042, 116.4074),
        ), (_isp("China Telecom", 4134, 140),), "cn"),
        Country("NG", "Nigeria", 1, (
            City("Lagos", "Lagos", 6.5244, 3.3792),
        ), (_isp("MTN Nigeria", 29465, 150),), "ng"),
        Country("VN", "Vietnam", 7, (
            City("Hanoi", "Hanoi", 21.0278, 105.8342),
        ), (_isp("Viettel", 7552, 160),), "vn"),
        Country("RO", "Romania", 2, (
            City("Bucharest", "Bucharest", 44.4268, 26.1025),
        ), (_isp("RCS & RDS", 8708, 170),), "ro"),
        Country("IR", "Iran", 3, (
            City("Tehran", "Tehran", 35.6892, 51.389),
        ), (_isp("Iran Telecommunication Company", 58224, 180),), "ir"),
        Country("ZA", "South Africa", 2, (
            City("Johannesburg", "Gauteng", -26.2041, 28.0473),
        ), (_isp("Vodacom", 29975, 190),), "co.za"),
        Country("MX", "Mexico", -6, (
            City("Mexico City", "Mexico City", 19.4326, -99.1332),
        ), (_isp("Telmex", 8151, 200),), "com.mx"),
    )
}

#: Home countries of the tenant's staff, with their share of the workforce.
HOME_COUNTRY_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("US", 40), ("GB", 14), ("DE", 10), ("FR", 6), ("NL", 4), ("IN", 10), ("JP", 4), ("AU", 4), ("CA", 5),
    ("BR", 3),
)

#: Countries staff travel to (benign travel) and attackers come from.
TRAVEL_COUNTRIES = ("ES", "SG", "JP", "GB", "US", "MX", "ZA")
ATTACKER_COUNTRIES = ("RU", "CN", "NG", "VN", "RO", "IR")

#: Azure datacenter regions: where managed identities and Azure-hosted service principals call from.
AZURE_REGIONS: tuple[tuple[str, City, str], ...] = (
    ("US", City("Boydton", "Virginia", 36.6676, -78.3875), "198.19.1"),
    ("US", City("Quincy", "Washington", 47.2343, -119.8525), "198.19.2"),
    ("NL", City("Amsterdam", "North Holland", 52.3676, 4.9041), "198.19.3"),
    ("IE", City("Dublin", "Dublin", 53.3498, -6.2603), "198.19.4"),
)
AZURE_ASN = 8075  # Microsoft
#: Non-Microsoft hosting used by custom apps (CI runners, SaaS integrations).
HOSTING: tuple[tuple[str, City, Network], ...] = (
    ("US", City("Ashburn", "Virginia", 39.0438, -77.4874), Network("Amazon.com", 16509, "198.19.64", "cloud")),
    ("DE", City("Frankfurt am Main", "Hesse", 50.1109, 8.6821), Network("Amazon.com", 16509, "198.19.65", "cloud")),
    ("US", City("San Francisco", "California", 37.7749, -122.4194),
     Network("Google Cloud", 396982, "198.19.66", "cloud")),
)
#: The corporate VPN / secure web gateway egress (benign shared IP).
CORPORATE_VPN = ("US", City("Chicago", "Illinois", 41.8781, -87.6298), Network("Zscaler", 53813, "198.19.80", "vpn"))

#: Attacker infrastructure: documentation ranges, each geolocating to one attacker country.
ATTACKER_NETWORKS: dict[str, Network] = {
    "RU": Network("M247 Europe", 9009, "203.0.113", "attacker"),
    "CN": Network("Alibaba Cloud", 45102, "198.51.100", "attacker"),
    "NG": Network("MTN Nigeria", 29465, "192.0.2", "attacker"),
    "VN": Network("Viettel", 7552, "203.0.113", "attacker"),
    "RO": Network("M247 Europe", 9009, "198.51.100", "attacker"),
    "IR": Network("Iran Telecommunication Company", 58224, "192.0.2", "attacker"),
    "NL": Network("DigitalOcean", 14061, "198.51.100", "attacker"),
    "US": Network("DigitalOcean", 14061, "203.0.113", "attacker"),
}
#: Each attacker country owns a slice of host numbers in its documentation range, so an address
#: always geolocates to exactly one country.
ATTACKER_HOST_RANGES: dict[str, tuple[int, int]] = {
    "RU": (1, 60), "VN": (61, 120), "US": (121, 254),
    "CN": (1, 100), "RO": (101, 180), "NL": (181, 254),
    "NG": (1, 127), "IR": (128, 254),
}


@dataclass(frozen=True)
class App:
    app_id: str
    name: str
    resources: tuple[str, ...]  # resource keys in RESOURCES


#: Well-known first-party client applications (real application ids).
FIRST_PARTY_APPS: dict[str, App] = {
    a.name: a
    for a in (
        App("1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams", ("teams", "graph", "spo")),
        App("d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Office", ("exchange", "graph", "spo")),
        App("4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome", ("graph", "officehome")),
        App("9199bf20-a13f-4107-85dc-02114787ef48", "One Outlook Web", ("exchange", "graph")),
        App("27922004-5251-4030-b22d-91ecd9a37ea4", "Outlook Mobile", ("exchange", "graph")),
        App("ab9b8c07-8f02-4f72-87fa-80105867a763", "OneDrive SyncEngine", ("spo",)),
        App("c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "Azure Portal", ("arm", "graph")),
        App("04b07795-8ddb-461a-bbee-02f9e1bf7b46", "Microsoft Azure CLI", ("arm", "graph")),
        App("1950a258-227b-4e31-a9cf-717495945fc2", "Microsoft Azure PowerShell", ("arm",)),
        App("14d82eec-204b-4c2f-b7e8-296a70dab67e", "Microsoft Graph Command Line Tools", ("graph",)),
        App("1b730954-1685-4b74-9bfd-dac224a7b894", "Azure Active Directory PowerShell", ("aad", "graph")),
        App("29d9ed98-a469-4536-ade2-f981bc1d605e", "Microsoft Authentication Broker", ("drs", "graph")),
        App("38aa3b87-a06d-4817-b275-7a316988d93b", "Windows Sign In", ("drs",)),
        App("fb78d390-0c51-40cd-8e17-fdbfab77341b", "Microsoft Exchange REST API Based Powershell", ("exchange",)),
        App("00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online", ("exchange",)),
    )
}

#: Target resources (real resource application ids).
RESOURCES: dict[str, tuple[str, str]] = {
    "graph": ("00000003-0000-0000-c000-000000000000", "Microsoft Graph"),
    "exchange": ("00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"),
    "spo": ("00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online"),
    "arm": ("797f4846-ba00-4fd7-ba43-dac1f8f63013", "Windows Azure Service Management API"),
    "aad": ("00000002-0000-0000-c000-000000000000", "Windows Azure Active Directory"),
    "teams": ("cc15fd57-2c6c-4117-a88c-83b1d56b4bbe", "Microsoft Teams Services"),
    "officehome": ("4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome"),
    "drs": ("01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9", "Device Registration Service"),
    "keyvault": ("cfa8b339-82a2-471a-a3c9-0fc0be7a4093", "Azure Key Vault"),
    "storage": ("e406a681-f3d4-42a8-90b6-c2b029497af1", "Azure Storage"),
    "o365mgmt": ("c5393580-f805-4401-95e8-94b7a6ef2fc2", "Office 365 Management APIs"),
}

#: Microsoft's own tenant: owner of the first-party apps and resources.
MICROSOFT_TENANT_ID = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"

#: (error code, failure reason) used by the generators. Texts follow the AADSTS messages in real exports.
ERRORS: dict[int, str] = {
    0: "",
    50126: "Error validating credentials due to invalid username or password.",
    50053: "The account is locked, you've tried to sign in too many times with an incorrect user ID or password.",
    50055: "The password is expired.",
    50057: "User account is disabled. The account has been disabled by an administrator.",
    50072: "Users needs to enroll for second factor authentication.",
    50074: "Strong Authentication is required.",
    50076: "Due to a configuration change made by your administrator, or because you moved to a new location, "
           "you must use multi-factor authentication to access the resource.",
    50140: "This error occurred due to 'Keep me signed in' interrupt when the user was signing in.",
    50173: "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
    500121: "Authentication failed during strong authentication request.",
    53003: "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
    70044: "The session has expired or is invalid due to sign-in frequency checks by conditional access.",
    700082: "The refresh token has expired due to inactivity.",
    7000215: "Invalid client secret is provided.",
    7000222: "The provided client secret keys are expired.",
    7000232: "Managed identity token request failed.",
    81016: "Invalid STS request.",
    81018: "Seamless SSO: Kerberos ticket validation failed.",
}
#: Codes Microsoft reports as interrupts rather than failures (portal "Interrupted").
INTERRUPT_CODES = frozenset({50074, 50076, 50140, 50072, 50055, 70044})

#: Windows/macOS/mobile device profiles: (operatingSystem, browser, user agent).
DEVICE_PROFILES: tuple[tuple[str, str, str], ...] = (
    ("Windows10", "Edge 131.0.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"),
    ("Windows10", "Chrome 131.0.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36"),
    ("Windows10", "Edge 130.0.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0"),
    ("MacOs", "Safari 17.6", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.6 Safari/605.1.15"),
    ("MacOs", "Chrome 131.0.0", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36"),
)
PHONE_PROFILES: tuple[tuple[str, str, str], ...] = (
    ("Ios", "Mobile Safari", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Mobile/15E148"),
    ("Android", "Rich Client 4.63.0.0", "Dalvik/2.1.0 (Linux; U; Android 14; SM-S918B Build/UP1A.231005.007)"),
)
#: The user agent a desktop Office/Teams client sends on token refresh.
RICH_CLIENT_BROWSER = "Rich Client 4.63.0.0"
RICH_CLIENT_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " \
                 "Chrome/131.0.0.0 Safari/537.36 Teams/24295.605.3225.8804"
POWERSHELL_UA = "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.22621.4391"
AZURE_CLI_UA = "python/3.11.9 (Windows-10-10.0.22631-SP0) AZURECLI/2.67.0 (MSI)"
ATTACKER_UAS = (
    "python-requests/2.32.3",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "axios/1.7.7",
    "Go-http-client/1.1",
)
LEGACY_CLIENTS = ("IMAP4", "Authenticated SMTP", "POP3", "Exchange ActiveSync")
MSAL_SP_UAS = ("Microsoft.Identity.Client/4.66.1", "azsdk-python-identity/1.19.0 Python/3.12.7 (Linux)",
               "Apache-HttpClient/4.5.14 (Java/17.0.12)")

FIRST_NAMES = (
    "Adele", "Alex", "Allan", "Ana", "Arjun", "Ben", "Carla", "Chen", "Christie", "Dana", "Diego", "Elena", "Emily",
    "Enrico", "Fatima", "Grady", "Hana", "Henrietta", "Ibrahim", "Isaiah", "Jana", "Johanna", "Joni", "Kenji",
    "Lee", "Lidia", "Lucas", "Lynne", "Maria", "Megan", "Miriam", "Nestor", "Nina", "Omar", "Patti", "Pradeep",
    "Priya", "Raul", "Sakura", "Sven", "Tomas", "Wei", "Yuki", "Zoe",
)
LAST_NAMES = (
    "Adams", "Bauer", "Chandra", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Gupta", "Hansen", "Ito",
    "Jensen", "Khan", "Kowalski", "Larsen", "Lopez", "Martin", "Meyer", "Moreau", "Nakamura", "Novak", "Okafor",
    "Patel", "Rossi", "Sato", "Schmidt", "Silva", "Smith", "Tanaka", "Vance", "Walker", "Wilber", "Young", "Zhang",
)
DEPARTMENTS = ("Finance", "Sales", "Engineering", "Marketing", "HR", "Legal", "Operations", "IT")
CUSTOM_APP_NAMES = (
    "Payroll Export Service", "CRM Sync Connector", "Build Pipeline Deployer", "Backup Orchestrator",
    "Invoice Processing Bot", "HR Onboarding Automation", "Data Lake Ingestion", "Security Scanner Integration",
    "Ticketing Bridge", "Reporting Dashboard API", "Document Archiver", "Marketing Analytics Collector",
    "License Reconciler", "Inventory Feed", "Expense Import Job", "Identity Lifecycle Sync",
)
MI_NAMES = (
    "func-billing-prod", "aks-platform-agentpool", "vm-jumpbox-01", "logic-invoice-approval", "adf-ingest-prod",
    "app-intranet-prod", "func-reports-nightly", "aci-batch-worker", "apim-gateway-prod", "vmss-build-agents",
)
