"""ECR lifecycle policies, checked and evaluated offline the way ECR documents them.

ECR has no local emulator that runs lifecycle policies (moto stores them but expires nothing), so
this module holds the documented rules once
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html and
lifecycle_policy_parameters.html):

* :func:`policy_problems`, the properties a policy must have for ECR to accept it: unique
  ``rulePriority`` values, ``tagged`` rules with a ``tagPatternList`` or a ``tagPrefixList`` (not
  both), ``untagged`` and ``any`` rules with neither, at most four ``*`` per pattern, at most one
  rule selecting untagged images, an ``any`` rule only last, ``countUnit`` exactly with
  ``sinceImagePushed``, a positive ``countNumber``, and the 30,720-character policy length;
* :func:`expired`, which images a policy expires. Rules are applied from the lowest priority
  number; an image is expired by at most one rule; an image that matches the tag selection of a
  rule cannot be expired by a rule of lower priority; a tag list selects an image when *every*
  entry matches one of the image's tags; ``imageCountMoreThan`` keeps the newest images the
  selection finds (counting the ones a higher rule holds) and ``sinceImagePushed`` expires the
  ones pushed more than the count of days ago.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any

#: ECR's "Lifecycle policy length" quota (characters), not adjustable.
MAX_POLICY_CHARACTERS = 30_720
MAX_WILDCARDS = 4


@dataclass(frozen=True)
class Image:
    """An image in a repository: its tags (none: untagged) and its age in days."""

    name: str
    tags: tuple[str, ...]
    age_days: float


def policy_problems(policy_text: str) -> list[str]:
    """Every documented property of a lifecycle policy that ``policy_text`` breaks."""
    problems = []
    if len(policy_text) > MAX_POLICY_CHARACTERS:
        problems.append(f"{len(policy_text)} characters, at most {MAX_POLICY_CHARACTERS}")
    rules = json.loads(policy_text)["rules"]
    priorities = [rule["rulePriority"] for rule in rules]
    if len(set(priorities)) != len(priorities):
        problems.append(f"rule priorities repeat: {priorities}")
    ordered = sorted(rules, key=lambda rule: rule["rulePriority"])
    statuses = [rule["selection"]["tagStatus"] for rule in ordered]
    if statuses.count("untagged") + statuses.count("any") > 1:
        problems.append("more than one rule selects untagged images")
    if "any" in statuses[:-1]:
        problems.append("a rule with tagStatus any is not the last")
    for rule in ordered:
        problems += [f"rule {rule['rulePriority']}: {p}" for p in _rule_problems(rule)]
    return problems


def _rule_problems(rule: dict[str, Any]) -> list[str]:
    problems = []
    selection = rule["selection"]
    lists = [key for key in ("tagPatternList", "tagPrefixList") if selection.get(key)]
    if selection["tagStatus"] == "tagged" and len(lists) != 1:
        problems.append("a tagged rule needs one of tagPatternList and tagPrefixList")
    if selection["tagStatus"] != "tagged" and lists:
        problems.append(f"a {selection['tagStatus']} rule has no tag list")
    for pattern in selection.get("tagPatternList") or []:
        if pattern.count("*") > MAX_WILDCARDS:
            problems.append(f"pattern {pattern!r} has more than {MAX_WILDCARDS} wildcards")
    count_type = selection["countType"]
    if count_type not in ("imageCountMoreThan", "sinceImagePushed"):
        problems.append(f"countType {count_type!r}")
    if (count_type == "sinceImagePushed") != (selection.get("countUnit") == "days"):
        problems.append("countUnit days goes with sinceImagePushed, and only with it")
    number = selection["countNumber"]
    if not isinstance(number, int) or number < 1:
        problems.append(f"countNumber {number!r} is not a positive integer")
    if rule.get("action") != {"type": "expire"}:
        problems.append(f"action {rule.get('action')!r}")
    return problems


def selects(selection: dict[str, Any], image: Image) -> bool:
    """Whether a rule's tag selection holds ``image``."""
    status = selection["tagStatus"]
    if status == "any":
        return True
    if status == "untagged":
        return not image.tags
    if not image.tags:
        return False
    patterns = selection.get("tagPatternList") or [
        f"{prefix}*" for prefix in selection.get("tagPrefixList") or []
    ]
    # ECR's only wildcard is "*"; fnmatchcase's "?" and "[" never occur in valid tags/patterns.
    return all(any(fnmatch.fnmatchcase(tag, pattern) for tag in image.tags) for pattern in patterns)


def expired(policy_text: str, images: list[Image]) -> set[str]:
    """The names of the images the policy expires (see the module docstring)."""
    done: set[str] = set()
    held: set[str] = set()  # matched by a rule of higher priority
    for rule in sorted(json.loads(policy_text)["rules"], key=lambda rule: rule["rulePriority"]):
        selection = rule["selection"]
        found = sorted(
            (image for image in images if selects(selection, image)),
            key=lambda image: image.age_days,  # newest first
        )
        if selection["countType"] == "imageCountMoreThan":
            candidates = found[selection["countNumber"] :]
        else:
            candidates = [image for image in found if image.age_days > selection["countNumber"]]
        done |= {image.name for image in candidates if image.name not in held}
        held |= {image.name for image in found}
    return done
