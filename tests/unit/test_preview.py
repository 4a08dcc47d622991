"""build_preview: which fields a preview shows, how it masks, where it stops."""

from __future__ import annotations

from durable.preview import FieldMatchMode, PreviewConfig, PreviewField, PreviewMode, build_preview

ORDER = {"customer": {"name": "ACME", "email": "a@acme.test"}, "card": "4111", "lines": [{"sku": "A"}, {"sku": "B"}]}


def test_exclude_all_shows_only_included_and_masked_fields() -> None:
    config = PreviewConfig(mode=PreviewMode.EXCLUDE_ALL, include=[PreviewField("name")], mask=[PreviewField("card")])
    assert build_preview(ORDER, config) == {"customer": {"name": "ACME"}, "card": "***"}


def test_exclude_wins_over_mask_and_include_all() -> None:
    config = PreviewConfig(
        mode=PreviewMode.INCLUDE_ALL, exclude=[PreviewField("card"), PreviewField("email")], mask=[PreviewField("card")]
    )
    assert build_preview(ORDER, config) == {"customer": {"name": "ACME"}, "lines": {"sku": "B"}}


def test_a_path_field_matches_only_from_the_root() -> None:
    config = PreviewConfig(mode=PreviewMode.EXCLUDE_ALL, include=[PreviewField("name", FieldMatchMode.PATH)])
    assert build_preview(ORDER, config) is None
    config = PreviewConfig(mode=PreviewMode.EXCLUDE_ALL, include=[PreviewField("customer.name", FieldMatchMode.PATH)])
    assert build_preview(ORDER, config) == {"customer": {"name": "ACME"}}


def test_the_preview_stops_at_its_byte_budget_and_ignores_non_objects() -> None:
    config = PreviewConfig(mode=PreviewMode.INCLUDE_ALL, max_preview_bytes=30)
    assert build_preview(ORDER, config) == {"customer": {"name": "ACME"}}
    assert build_preview([ORDER], config) is None
    assert build_preview({"a.b": 1}, config) is None
