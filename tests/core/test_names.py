"""A person's name reads in the order of its language, in the product and in merge fields."""

import pytest

from core.names import person_name
from outreach.merge import merge_values
from tests.factories import ProspectFactory, UserFactory


@pytest.mark.parametrize(
    ("first", "last", "whole"),
    [
        ("Ana", "Ruiz", "Ana Ruiz"),
        ("민준", "김", "김민준"),
        ("太郎", "山田", "山田 太郎"),
        ("Ana", "", "Ana"),
        ("", "김", "김"),
        ("Minjun", "김", "Minjun 김"),  # mixed scripts: as written, given name first
        (None, None, ""),  # a feed row whose event has no prospect
    ],
)
def test_the_whole_name_in_its_languages_order(first, last, whole):
    assert person_name(first, last) == whole


@pytest.mark.django_db
def test_merge_fields_and_the_product_write_a_korean_name_family_name_first():
    sender = UserFactory(first_name="서연", last_name="이")
    prospect = ProspectFactory(first_name="민준", last_name="김")
    values = merge_values(prospect=prospect, sender=sender)
    assert values["full_name"] == "김민준" and values["sender_name"] == "이서연"
    assert prospect.full_name == "김민준" and sender.get_full_name() == "이서연"
