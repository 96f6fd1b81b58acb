"""Tag mutability and its exclusion filters as one value: desired, observed and the API parameters."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from hypothesis import given
from hypothesis import strategies as st

from ecr_drift.documents.mutability import TagMutability, desired_tag_mutability
from ecr_drift.settings.tag_mutability import observed_tag_mutability, to_api

ECR_MODEL = botocore.session.get_session().get_service_model("ecr")
TAG_FILTERS = st.from_regex(r"[0-9a-zA-Z._*-]{1,20}", fullmatch=True)


def describe_entry(value: str, filters: list[str] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"repositoryName": "api", "imageTagMutability": value}
    if filters is not None:
        entry["imageTagMutabilityExclusionFilters"] = [
            {"filter": f, "filterType": "WILDCARD"} for f in filters
        ]
    return entry


@pytest.mark.parametrize(
    ("mutability", "exclusions", "expected"),
    [
        ("MUTABLE", None, TagMutability("MUTABLE")),
        ("IMMUTABLE", None, TagMutability("IMMUTABLE")),
        ("MUTABLE", [], TagMutability("MUTABLE")),
        ("IMMUTABLE", [], TagMutability("IMMUTABLE")),
        ("MUTABLE", ["dev-*"], TagMutability("MUTABLE_WITH_EXCLUSION", ("dev-*",))),
        ("IMMUTABLE", ["latest", "b*"], TagMutability("IMMUTABLE_WITH_EXCLUSION", ("b*", "latest"))),
    ],
)
def test_desired_values(mutability: str, exclusions: list[str] | None, expected: TagMutability) -> None:
    assert desired_tag_mutability(mutability, exclusions) == expected


@pytest.mark.parametrize("mutability", ["IMMUTABLE_WITH_EXCLUSION", "immutable", ""])
def test_desired_takes_only_the_plain_values(mutability: str) -> None:
    with pytest.raises(ValueError, match="MUTABLE or IMMUTABLE"):
        desired_tag_mutability(mutability, ["latest"])


def test_exclusions_are_sorted_and_unique() -> None:
    assert TagMutability("IMMUTABLE_WITH_EXCLUSION", ("z", "a", "z")).exclusions == ("a", "z")


@pytest.mark.parametrize(
    ("value", "exclusions"),
    [("MUTABLE", ("latest",)), ("IMMUTABLE_WITH_EXCLUSION", ()), ("SOMETIMES", ())],
)
def test_invalid_combinations_are_refused(value: Any, exclusions: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match=r"mutability|not valid"):
        TagMutability(value, exclusions)


def test_observed_from_describe_repositories() -> None:
    entry = describe_entry("IMMUTABLE_WITH_EXCLUSION", ["release-*", "latest"])

    assert observed_tag_mutability(entry) == TagMutability(
        "IMMUTABLE_WITH_EXCLUSION", ("latest", "release-*")
    )


def test_observed_plain_value_ignores_leftover_filters() -> None:
    assert observed_tag_mutability(describe_entry("IMMUTABLE", ["latest"])) == TagMutability("IMMUTABLE")


def test_observed_without_a_value_is_ecrs_default() -> None:
    assert observed_tag_mutability({"repositoryName": "api"}) == TagMutability("MUTABLE")


def test_observed_exclusion_value_without_filters_is_refused() -> None:
    with pytest.raises(ValueError, match="not valid"):
        observed_tag_mutability(describe_entry("MUTABLE_WITH_EXCLUSION", []))


def test_observed_unknown_filter_type_is_refused() -> None:
    entry = {
        "imageTagMutability": "MUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": [{"filter": "latest", "filterType": "REGEX"}],
    }

    with pytest.raises(ValueError, match="REGEX"):
        observed_tag_mutability(entry)


def test_desired_and_observed_compare_as_one_value() -> None:
    desired = desired_tag_mutability("IMMUTABLE", ["latest"])

    assert desired == observed_tag_mutability(describe_entry("IMMUTABLE_WITH_EXCLUSION", ["latest"]))
    assert desired != observed_tag_mutability(describe_entry("IMMUTABLE"))
    assert desired != observed_tag_mutability(describe_entry("MUTABLE_WITH_EXCLUSION", ["latest"]))
    assert desired != observed_tag_mutability(describe_entry("IMMUTABLE_WITH_EXCLUSION", ["latest", "dev"]))


def test_to_api_shapes() -> None:
    assert to_api(TagMutability("IMMUTABLE")) == {"imageTagMutability": "IMMUTABLE"}
    assert to_api(TagMutability("MUTABLE_WITH_EXCLUSION", ("b", "a"))) == {
        "imageTagMutability": "MUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": [
            {"filter": "a", "filterType": "WILDCARD"},
            {"filter": "b", "filterType": "WILDCARD"},
        ],
    }


mutabilities = st.one_of(
    st.sampled_from([TagMutability("MUTABLE"), TagMutability("IMMUTABLE")]),
    st.builds(
        desired_tag_mutability,
        st.sampled_from(["MUTABLE", "IMMUTABLE"]),
        st.lists(TAG_FILTERS, min_size=1, max_size=5, unique=True),
    ),
)


@given(mutability=mutabilities)
@pytest.mark.parametrize("operation", ["PutImageTagMutability", "CreateRepository"])
def test_to_api_is_valid_for_botocore_and_round_trips(operation: str, mutability: TagMutability) -> None:
    parameters = to_api(mutability)
    shape = ECR_MODEL.operation_model(operation).input_shape
    assert shape is not None

    report = ParamValidator().validate({"repositoryName": "api", **parameters}, shape)

    assert not report.has_errors(), report.generate_report()
    assert observed_tag_mutability(parameters) == mutability


@given(
    mutability=st.sampled_from(["MUTABLE", "IMMUTABLE"]),
    filters=st.lists(TAG_FILTERS, min_size=1, max_size=5),
    data=st.data(),
)
def test_filter_order_and_duplicates_never_matter(
    mutability: str, filters: list[str], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(filters), label="shuffled")
    value = f"{mutability}_WITH_EXCLUSION"

    assert desired_tag_mutability(mutability, filters) == desired_tag_mutability(
        mutability, [*shuffled, *filters]
    )
    assert desired_tag_mutability(mutability, filters) == observed_tag_mutability(
        describe_entry(value, shuffled)
    )


@given(
    mutability=st.sampled_from(["MUTABLE", "IMMUTABLE"]),
    filters=st.lists(TAG_FILTERS, min_size=1, max_size=5, unique=True),
    extra=TAG_FILTERS,
)
def test_a_different_filter_set_is_a_difference(mutability: str, filters: list[str], extra: str) -> None:
    desired = desired_tag_mutability(mutability, filters)
    observed_value = f"{mutability}_WITH_EXCLUSION"

    if extra not in filters:
        assert desired != observed_tag_mutability(describe_entry(observed_value, [*filters, extra]))
    if len(filters) > 1:
        assert desired != observed_tag_mutability(describe_entry(observed_value, filters[1:]))
