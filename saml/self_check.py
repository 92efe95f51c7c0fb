"""The self-check before going live with an HM: our keys, our metadata, our catalogue and the HM's
metadata, read as the other side reads them, against the eHerkenning rules.

Each check returns findings: `ok`, a `warning` (works now, needs doing soon) or an `error` (an HM
would refuse it, or sign-ins would fail), each saying what was found and what to do.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from config import Binding, SamlSettings, Service
from config.catalogue_entry import CATALOGUE_ENVIRONMENTS, NAME_LIMIT, REQUESTABLE
from saml import signature
from saml.errors import Reason, SamlError
from saml.keys import certificate_base64, key_name, pem_from_base64
from saml.loa import LevelOfAssurance
from saml.metadata import ROLLOVER_NS
from saml.xml import NS, format_instant, parse, parse_instant

# A certificate with less left than this is to be replaced now: an HM needs time to take the next one.
EXPIRY_WARNING = timedelta(days=60)
# HM metadata that expires sooner than this is to be fetched or asked for again.
HM_METADATA_WARNING = timedelta(days=14)
SMALLEST_RSA_KEY = 2048
_NS = {**NS, "rollover": ROLLOVER_NS}
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_SERVICE_ID = re.compile(r"urn:etoegang:DV:([0-9]{20}):services:([0-9]+)")
_VERSION = re.compile(r"urn:etoegang:[0-9]+(?:\.[0-9]+)*:service-catalogue:(\w+):([0-9]+)")
# Names in a RequestedAttribute that ask for who the company or the person is.
_IDENTIFYING = ("EntityConcernedID", "KvKnr", "RSIN", "BSN", "IntermediateEntityID")
_RENEW_OURS = (
    "make the next key pair (flask --app wsgi keys import, or BROKER_SAML_NEXT_KEY/_CERT/_ACTIVATION"
    " without a key store) and send the HM our new metadata and catalogue well before then"
)
_RENEW_HM = "ask the HM for metadata with its next certificate"


class Level(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    level: Level
    subject: str
    text: str

    def line(self) -> str:
        return f"{self.level}: {self.subject}: {self.text}"


def _ok(subject: str, text: str) -> Finding:
    return Finding(Level.OK, subject, text)


def _warning(subject: str, text: str) -> Finding:
    return Finding(Level.WARNING, subject, text)


def _error(subject: str, text: str) -> Finding:
    return Finding(Level.ERROR, subject, text)


def check_keys(settings: SamlSettings, now: datetime) -> list[Finding]:
    """Our key pair, and the next one during a rollover: valid now, and long enough."""
    subject = "our key"
    findings = _certificate(subject, "certificate", settings.key.cert_pem, now, _RENEW_OURS)
    next_key = settings.next_key
    if next_key is None:
        return findings
    subject = "our next key"
    pem = next_key.pair.cert_pem
    findings += _certificate(subject, "certificate", pem, now, _RENEW_OURS, not_yet_is_fine=True)
    certificate = x509.load_pem_x509_certificate(pem)
    when = format_instant(next_key.activates_at)
    if not certificate.not_valid_before_utc <= next_key.activates_at < certificate.not_valid_after_utc:
        findings.append(
            _error(subject, f"its certificate is not valid at its activation ({when}): issue one that is")
        )
    if next_key.activates_at <= now:
        findings.append(
            _warning(
                subject,
                f"took over signing at {when}: make it BROKER_SAML_KEY/BROKER_SAML_CERT, unset"
                " BROKER_SAML_NEXT_*, and send the HM our new metadata and catalogue",
            )
        )
    else:
        days = (next_key.activates_at - now).days
        findings.append(
            _ok(subject, f"takes over signing at {when}, in {days} days: the HM must have it before then")
        )
    return findings


def check_metadata(
    data: bytes,
    settings: SamlSettings,
    services: Sequence[Service],
    now: datetime,
    production: bool,
    schema: etree.XMLSchema | None = None,
) -> list[Finding]:
    """Our SP metadata as an HM reads it."""
    subject = "our metadata"
    root, findings = _read(subject, data, schema)
    if root is None:
        return findings
    findings += _signature(subject, root, [pair.cert_pem for pair in settings.keys_at(now)], "our key")
    findings += _validity(subject, root, now)
    sp = root.find("md:SPSSODescriptor", NS)
    if sp is None:
        return [*findings, _error(subject, "has no SPSSODescriptor")]
    for flag in ("AuthnRequestsSigned", "WantAssertionsSigned"):
        if sp.get(flag) != "true":
            findings.append(_error(subject, f'{flag} must be "true": eHerkenning HMs refuse it otherwise'))
    published = [
        "".join(value.split())
        for value in sp.xpath(
            "md:KeyDescriptor/ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()", namespaces=NS
        )
    ]
    findings += _published_keys(subject, published, settings, now)
    uses = sp.xpath("md:KeyDescriptor/@use", namespaces=NS)
    if uses:
        findings.append(
            _warning(subject, f"a KeyDescriptor has use={uses[0]!r}: ours signs and decrypts alike")
        )
    findings += _rollover_extension(subject, sp, settings)
    findings += _endpoints(subject, sp, settings, production)
    findings += _attribute_services(subject, sp, settings, services)
    return findings


def check_catalogue(
    data: bytes,
    settings: SamlSettings,
    services: Sequence[Service],
    now: datetime,
    environment: str,
    schema: etree.XMLSchema | None = None,
) -> list[Finding]:
    """Our service catalogue as an HM reads it."""
    subject = "our catalogue"
    root, findings = _read(subject, data, schema)
    if root is None:
        return findings
    findings += _signature(subject, root, [pair.cert_pem for pair in settings.keys_at(now)], "our key")
    version = root.get(f"{{{NS['esc']}}}Version", "")
    match = _VERSION.fullmatch(version)
    if match is None:
        findings.append(
            _error(subject, f"Version {version!r} is not urn:etoegang:<ver>:service-catalogue:<env>:<n>")
        )
    elif match.group(1) != CATALOGUE_ENVIRONMENTS[environment]:
        findings.append(_error(subject, f"Version {version} is not for {environment}"))
    providers = root.findall("esc:ServiceProvider", NS)
    if len(providers) != 1 or providers[0].findtext("esc:ServiceProviderID", namespaces=NS) != settings.oin:
        return [*findings, _error(subject, f"must hold one ServiceProvider, ours (OIN {settings.oin})")]
    provider = providers[0]
    for name in provider.findall("esc:OrganizationDisplayName", NS):
        findings += _length(subject, "OrganizationDisplayName", name.text or "")
    definitions = {
        d.findtext("esc:ServiceUUID", namespaces=NS): d for d in provider.findall("esc:ServiceDefinition", NS)
    }
    for uuid, definition in definitions.items():
        findings += _definition(f"{subject}: service {uuid}", definition)
    instance_uuids: set[str] = set()
    for instance in provider.findall("esc:ServiceInstance", NS):
        service_id = instance.findtext("esc:ServiceID", default="", namespaces=NS)
        where = f"{subject}: {service_id}"
        own = instance.findtext("esc:ServiceUUID", default="", namespaces=NS)
        if own in instance_uuids or own in definitions:
            findings.append(_error(where, f"instance UUID {own} is used twice: give each instance its own"))
        instance_uuids.add(own)
        if instance.findtext("esc:InstanceOfService", namespaces=NS) not in definitions:
            findings.append(_error(where, "InstanceOfService names no ServiceDefinition of this catalogue"))
        for tag in ("ServiceURL", "PrivacyPolicyURL"):
            urls = [url.text or "" for url in instance.findall(f"esc:{tag}", NS)]
            if not urls or not all(url.startswith("https://") for url in urls):
                findings.append(_error(where, f"{tag} must be given, as an https:// URL"))
        published = [
            "".join(value.split())
            for value in instance.xpath(
                "esc:ServiceCertificate/md:KeyDescriptor/ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()",
                namespaces=NS,
            )
        ]
        findings += _published_keys(where, published, settings, now)
    return findings


def check_agreement(
    metadata: bytes, catalogue: bytes, settings: SamlSettings, services: Sequence[Service]
) -> list[Finding]:
    """Metadata and catalogue name the same services: the same indexes, and per index the UUID the
    broker expects in assertions."""
    subject = "metadata and catalogue"
    try:
        metadata_root, catalogue_root = parse(metadata), parse(catalogue)
    except SamlError:
        return [_error(subject, "cannot be compared: one of them is not readable XML")]
    in_metadata = {
        int(index)
        for index in metadata_root.xpath(
            "md:SPSSODescriptor/md:AttributeConsumingService/@index", namespaces=NS
        )
        if index.isdigit()
    }
    provider = catalogue_root.find("esc:ServiceProvider", NS)
    instances = {} if provider is None else _instances_by_index(provider, settings.oin)
    findings = [
        _error(subject, f"service index {index} is in our metadata, not in our catalogue: send both anew")
        for index in sorted(in_metadata - set(instances))
    ]
    findings += [
        _error(subject, f"service index {index} is in our catalogue, not in our metadata: send both anew")
        for index in sorted(set(instances) - in_metadata)
    ]
    expected = {service.index: service.uuid for service in services}
    for index, instance in sorted(instances.items()):
        uuid = instance.findtext("esc:InstanceOfService", namespaces=NS)
        if index in expected and uuid != expected[index]:
            findings.append(
                _error(
                    subject,
                    f"service index {index} is ServiceUUID {uuid} in the catalogue, {expected[index]} in"
                    " the configuration: assertions would be refused; publish the catalogue anew",
                )
            )
    if not findings:
        findings.append(_ok(subject, f"agree on {len(in_metadata)} services, their indexes and UUIDs"))
    return findings


def check_hm_metadata(
    data: bytes,
    settings: SamlSettings,
    now: datetime,
    production: bool,
    signers: Sequence[bytes] = (),
    signer_setting: str = "BROKER_HM_METADATA_SIGNER",
) -> list[Finding]:
    """An HM's metadata: signed well, certificates valid, the endpoints our bindings need; with
    `signers` (pinned in `signer_setting`), its signature must verify with one of them."""
    root, findings = _read("HM metadata", data, None)
    if root is None:
        return findings
    entities = root.xpath("descendant-or-self::md:EntityDescriptor[md:IDPSSODescriptor]", namespaces=NS)
    if len(entities) != 1:
        return [*findings, _error("HM metadata", f"must describe one HM, describes {len(entities)}")]
    entity = entities[0]
    subject = f"HM {entity.get('entityID', '?')}"
    idp = entity.find("md:IDPSSODescriptor", NS)
    certificates = [
        pem_from_base64(value)
        for value in idp.xpath(
            "md:KeyDescriptor[not(@use) or @use='signing']/ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()",
            namespaces=NS,
        )
    ]
    if not signature.is_signed(root):
        findings.append(
            _warning(subject, "metadata is not signed: take it from the HM over a channel you trust")
        )
    elif signers:
        findings += _signature(subject, root, signers, signer_setting)
    else:
        findings += _signature(subject, root, certificates, "its own certificate")
        findings.append(
            _warning(subject, f"metadata signature is not pinned: set {signer_setting} (from the HM)")
        )
    findings += _validity(subject, entity, now, HM_METADATA_WARNING)
    if not certificates:
        findings.append(_error(subject, "has no signing certificate: ask the HM for complete metadata"))
    for pem in certificates:
        findings += _certificate(subject, "signing certificate", pem, now, _RENEW_HM)
    findings += _hm_endpoints(subject, idp, settings, production)
    return findings


def _read(
    subject: str, data: bytes, schema: etree.XMLSchema | None
) -> tuple[etree._Element | None, list[Finding]]:
    try:
        root = parse(data)
    except SamlError as exc:
        return None, [_error(subject, f"is not acceptable XML ({exc})")]
    if schema is None:
        return root, []
    if schema.validate(root):
        return root, [_ok(subject, "is valid against its XML schema")]
    errors = "; ".join(f"line {e.line}: {e.message}" for e in list(schema.error_log)[:3])
    return root, [_error(subject, f"is not valid against its XML schema: {errors}")]


def _signature(subject: str, root: etree._Element, certificates: Iterable[bytes], by: str) -> list[Finding]:
    method = root.xpath("string(ds:Signature/ds:SignedInfo/ds:SignatureMethod/@Algorithm)", namespaces=NS)
    digest = root.xpath(
        "string(ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestMethod/@Algorithm)", namespaces=NS
    )
    algorithms = f"{method.rpartition('#')[2] or '?'} with {digest.rpartition('#')[2] or '?'} digests"
    try:
        signature.register_ids(root)
        signature.verify(root, list(certificates))
    except SamlError as exc:
        if exc.reason is Reason.SIGNATURE_ALGORITHM:
            return [_error(subject, f"signed with {algorithms}: only RSA-SHA256 or stronger, never SHA-1")]
        return [_error(subject, f"signature does not verify with {by} ({exc})")]
    return [_ok(subject, f"signed with {algorithms}, verified with {by}")]


def _validity(
    subject: str, element: etree._Element, now: datetime, margin: timedelta = timedelta(0)
) -> list[Finding]:
    raw = element.get("validUntil")
    if raw is None:
        return [_warning(subject, "has no validUntil")]
    try:
        valid_until = parse_instant(raw, "validUntil")
    except SamlError:
        return [_error(subject, f"validUntil {raw!r} is not a dateTime")]
    if valid_until <= now:
        return [_error(subject, f"expired at {raw}: get it anew")]
    if valid_until - now < margin:
        return [_warning(subject, f"expires at {raw}: get it anew before then")]
    cached = element.get("cacheDuration")
    return [_ok(subject, f"valid until {raw}" + (f", cached for {cached}" if cached else ""))]


def _certificate(
    subject: str, what: str, pem: bytes, now: datetime, todo: str, not_yet_is_fine: bool = False
) -> list[Finding]:
    certificate = x509.load_pem_x509_certificate(pem)
    named = f"{what} {_common_name(certificate)}"
    key = certificate.public_key()
    findings = []
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < SMALLEST_RSA_KEY:
        findings.append(
            _error(subject, f"{named} has an RSA key of {key.key_size} bits: {SMALLEST_RSA_KEY} at least")
        )
    until = certificate.not_valid_after_utc
    day = until.date().isoformat()
    if until <= now:
        return [*findings, _error(subject, f"{named} expired on {day}: {todo}")]
    if certificate.not_valid_before_utc > now and not not_yet_is_fine:
        since = certificate.not_valid_before_utc.date().isoformat()
        return [*findings, _error(subject, f"{named} is valid only from {since}")]
    days = (until - now).days
    if until - now < EXPIRY_WARNING:
        return [*findings, _warning(subject, f"{named} expires on {day}, in {days} days: {todo}")]
    return [*findings, _ok(subject, f"{named} valid until {day} ({days} days left)")]


def _common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return f"CN={names[0].value!s}" if names else certificate.subject.rfc4514_string()


def _published_keys(
    subject: str, published: list[str], settings: SamlSettings, now: datetime
) -> list[Finding]:
    """The certificates a document publishes must be our keys of `now`: the current one, and the next
    during a rollover."""
    expected = {certificate_base64(pair.cert_pem): pair for pair in settings.keys_at(now)}
    findings = []
    for value, pair in expected.items():
        if value not in published:
            role = "next" if settings.next_key and pair == settings.next_key.pair else "current"
            findings.append(_error(subject, f"does not publish our {role} certificate: send it anew"))
    for value in published:
        if value not in expected:
            findings.append(_error(subject, "publishes a certificate that is not one of our keys: remove it"))
    if not findings:
        findings.append(_ok(subject, f"publishes our {len(expected)} certificate(s)"))
    return findings


def _rollover_extension(subject: str, sp: etree._Element, settings: SamlSettings) -> list[Finding]:
    published = sp.find("md:Extensions/rollover:NextKey", _NS)
    if settings.next_key is None:
        return [] if published is None else [_error(subject, "announces a next key the broker does not have")]
    expected = (key_name(settings.next_key.pair.cert_pem), format_instant(settings.next_key.activates_at))
    if published is None or (published.get("KeyName"), published.get("activates")) != expected:
        return [_error(subject, f"does not announce the next key's activation ({expected[1]})")]
    return [_ok(subject, f"announces the next key's activation at {expected[1]}")]


def _endpoints(subject: str, sp: etree._Element, settings: SamlSettings, production: bool) -> list[Finding]:
    findings = []
    endpoints = sp.findall("md:AssertionConsumerService", NS)
    if not endpoints:
        return [_error(subject, "has no AssertionConsumerService")]
    for endpoint in endpoints:
        binding, location = endpoint.get("Binding"), endpoint.get("Location", "")
        if binding not in {Binding.ARTIFACT, Binding.POST}:
            findings.append(_error(subject, f"ACS binding {binding} is neither HTTP-Artifact nor HTTP-POST"))
        elif binding != settings.response_binding:
            findings.append(_error(subject, f"ACS binding {binding} is not the one our requests ask for"))
        if location != settings.acs_url:
            findings.append(_error(subject, f"ACS location {location} is not ours ({settings.acs_url})"))
        findings += _https(subject, f"ACS location {location}", location, production)
    if not findings:
        findings.append(_ok(subject, f"ACS {settings.acs_url} ({settings.response_binding.name})"))
    return findings


def _attribute_services(
    subject: str, sp: etree._Element, settings: SamlSettings, services: Sequence[Service]
) -> list[Finding]:
    findings = []
    indexes: list[int] = []
    for service in sp.findall("md:AttributeConsumingService", NS):
        index = int(service.get("index", "0")) if service.get("index", "").isdigit() else 0
        indexes.append(index)
        service_id = f"urn:etoegang:DV:{settings.oin}:services:{index}"
        names = [attribute.get("Name", "") for attribute in service.findall("md:RequestedAttribute", NS)]
        if service_id not in names:
            findings.append(_error(subject, f"service {index} does not request its ServiceID {service_id}"))
        for name in names:
            if any(word in name for word in _IDENTIFYING):
                findings.append(
                    _error(
                        subject,
                        f"service {index} requests {name}: HMs reject metadata asking for identifiers",
                    )
                )
            elif name != service_id:
                findings.append(
                    _warning(subject, f"service {index} requests {name}: ask for it in the catalogue instead")
                )
    configured = {service.index for service in services}
    for index in sorted({i for i in indexes if indexes.count(i) > 1}):
        findings.append(_error(subject, f"service index {index} occurs more than once"))
    for index in sorted(configured - set(indexes)):
        findings.append(_error(subject, f"service index {index} is configured but not listed"))
    for index in sorted(set(indexes) - configured):
        findings.append(_error(subject, f"service index {index} is listed but not configured"))
    if not findings:
        findings.append(_ok(subject, f"lists {len(indexes)} services, requesting only their ServiceIDs"))
    return findings


def _definition(subject: str, definition: etree._Element) -> list[Finding]:
    findings = []
    for name in definition.findall("esc:ServiceName", NS):
        findings += _length(subject, "ServiceName", name.text or "")
    level = definition.findtext("saml:AuthnContextClassRef", default="", namespaces=NS)
    try:
        LevelOfAssurance.from_uri(level)
    except SamlError:
        findings.append(_error(subject, f"AuthnContextClassRef {level!r} is not an eHerkenning level"))
    hm = definition.findtext("esc:HerkenningsmakelaarId", default="", namespaces=NS)
    if not re.fullmatch(r"[0-9]{20}", hm):
        findings.append(_error(subject, "HerkenningsmakelaarId must be the HM's OIN: set BROKER_HM_ID"))
    if definition.find("esc:EntityConcernedTypesAllowed", NS) is None:
        findings.append(_error(subject, "accepts no EntityConcernedTypes"))
    for attribute in definition.findall("esc:RequestedAttribute", NS):
        name = attribute.get("Name", "")
        if name not in REQUESTABLE.values():
            findings.append(
                _error(subject, f"requests {name}: only the person's name and date of birth may be")
            )
        languages = {p.get(_XML_LANG) for p in attribute.findall("esc:PurposeStatement", NS)}
        if not {"nl", "en"} <= languages:
            findings.append(_error(subject, f"requests {name} without a purpose in Dutch and English"))
    return findings


def _length(subject: str, tag: str, value: str) -> list[Finding]:
    if len(value) <= NAME_LIMIT:
        return []
    return [_error(subject, f"{tag} {value!r} has {len(value)} characters: {NAME_LIMIT} at most")]


def _instances_by_index(provider: etree._Element, oin: str) -> dict[int, etree._Element]:
    found = {}
    for instance in provider.findall("esc:ServiceInstance", NS):
        match = _SERVICE_ID.fullmatch(instance.findtext("esc:ServiceID", default="", namespaces=NS))
        if match and match.group(1) == oin:
            found[int(match.group(2))] = instance
    return found


def _hm_endpoints(
    subject: str, idp: etree._Element, settings: SamlSettings, production: bool
) -> list[Finding]:
    findings = []
    sso = {e.get("Binding"): e.get("Location", "") for e in idp.findall("md:SingleSignOnService", NS)}
    if settings.request_binding in sso:
        location = sso[settings.request_binding]
        findings.append(
            _ok(subject, f"takes our AuthnRequests ({settings.request_binding.name}) at {location}")
        )
        findings += _https(subject, f"SingleSignOnService {location}", location, production)
    else:
        other = "redirect" if settings.request_binding is Binding.POST else "post"
        findings.append(
            _error(
                subject,
                f"has no SingleSignOnService for {settings.request_binding.name}: set"
                f" BROKER_SAML_REQUEST_BINDING={other} if it has that one, or ask the HM",
            )
        )
    if settings.response_binding is Binding.ARTIFACT:
        resolution = [
            e.get("Location", "")
            for e in idp.findall("md:ArtifactResolutionService", NS)
            if e.get("Binding") == Binding.SOAP
        ]
        if not resolution:
            findings.append(
                _error(
                    subject,
                    "has no ArtifactResolutionService (SOAP): artifacts cannot be resolved; ask the HM",
                )
            )
        for location in resolution:
            findings.append(_ok(subject, f"resolves artifacts at {location}"))
            findings += _https(subject, f"ArtifactResolutionService {location}", location, production)
    return findings


def _https(subject: str, what: str, location: str, production: bool) -> list[Finding]:
    if location.startswith("https://"):
        return []
    if production:
        return [_error(subject, f"{what} is not https://")]
    return [_warning(subject, f"{what} is not https:// (refused in production)")]
