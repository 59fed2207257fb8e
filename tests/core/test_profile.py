"""The seller profile: validated with errors naming the key and line, and versioned by
content (what the engines use), not by the file's bytes."""

from __future__ import annotations

import pytest

from leadq.core.profile import ProfileError, default_profile, load_profile, parse_profile
from leadq.core.rules.icp import load_icp

TEXT = """# pumps
target_industries = ["mining", "water treatment"]
employees_min = 100

[offer]
description = "Metering pumps."
disqualifiers = ["residential use"]
"""


def test_the_packaged_default_is_a_generic_b2b_software_offer() -> None:
    profile = default_profile()
    assert "software" in profile.offer.description
    assert profile.offer.disqualifiers
    assert len(profile.version) == 12
    assert int(profile.version, 16) >= 0


def test_the_version_follows_the_content_not_comments_or_layout() -> None:
    base = parse_profile(TEXT, "a").version
    reworded = TEXT.replace("# pumps", "# our pumps").replace("= 100", "=   100")
    assert parse_profile(reworded, "b").version == base
    changed = TEXT.replace("Metering pumps.", "Dosing skids.")
    assert parse_profile(changed, "a").version != base


def test_an_edited_file_is_read_again(tmp_path) -> None:
    path = tmp_path / "icp.toml"
    path.write_text(TEXT)
    before = load_profile(path)
    path.write_text(TEXT.replace("= 100", "= 250"))
    after = load_profile(path)
    assert (before.employees_min, after.employees_min) == (100, 250)
    assert load_icp(path).employees_min == 250  # the rules engine reads the same file


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("employees_min = true\n", "employees_min (line 1): must be a number, not true/false"),
        ("employees_min = 900\nemployees_max = 10\n", "employees_min (line 1): is more than"),
        ('x = 1\n[offer]\ndescription = "d"\n', "x (line 1): unknown key"),
        ('[offer]\ndescription = "d"\nprice_points = [1]\n', "offer.price_points (line 3)"),
        ("[fit_weights]\nindustry = 1\nbudget = 2\n", "fit_weights.budget (line 3): unknown"),
        ("offer = 3\n", "offer (line 1): must be a table"),
    ],
)
def test_errors_name_the_key_and_its_line(text: str, message: str) -> None:
    with pytest.raises(ProfileError, match=r"^src\.toml: ") as caught:
        parse_profile(text, "src.toml")
    assert message in str(caught.value)
