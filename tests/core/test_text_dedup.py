from __future__ import annotations

import numpy as np

from vulntax.dataset.dedup import find_duplicates
from vulntax.text import exact_key, model_input, near_key


def test_model_input_strips_ids_and_spacing() -> None:
    text = "A  flaw (CWE-79) in Foo.\nThis CVE ID is unique from CVE-2021-33758 and cwe 89."
    assert model_input(text) == "A flaw ( ) in Foo. This CVE ID is unique from and ."


def test_keys() -> None:
    assert exact_key("Foo  BAR\n") == exact_key("foo bar")
    assert near_key("XSS in Foo 1.2.3 allows") == near_key("xss in foo 10.4, allows")
    assert near_key("XSS in Foo") != near_key("SQL injection in Foo")


def test_microsoft_template_collapses(nvd_2021: list[dict]) -> None:
    # real records: "Windows Hyper-V Denial of Service Vulnerability This CVE ID is
    # unique from CVE-…"
    texts = {
        v["cve"]["id"]: v["cve"]["descriptions"][0]["value"]
        for v in nvd_2021
        if v["cve"]["id"] in ("CVE-2021-33755", "CVE-2021-33758")
    }
    assert len(texts) == 2
    result = find_duplicates(list(texts.values()))
    assert result.kept == 1
    assert result.numbers == 1


def test_near_duplicates_join_and_keep_the_earliest(descriptions: list[str]) -> None:
    base = descriptions[10]
    edited = base.replace(" allows ", " lets ", 1) if " allows " in base else base + " Fixed."
    texts = [descriptions[3], edited, base, descriptions[7]]
    order = [0, 2, 1, 3]  # `base` (index 2) is earlier than `edited` (index 1)
    result = find_duplicates(texts, order=order)
    assert result.representative[1] == 2
    assert result.representative[2] == 2
    assert result.representative[0] == 0 and result.representative[3] == 3


def test_distinct_texts_stay_apart(descriptions: list[str]) -> None:
    unique = list(dict.fromkeys(exact_key(d) for d in descriptions[:500]))
    result = find_duplicates(unique)
    # real advisories do repeat templates, but most of 500 consecutive ones are distinct
    assert result.kept > 0.9 * len(unique)
    assert np.all(result.representative <= np.arange(len(unique)))


def test_deterministic(descriptions: list[str]) -> None:
    a = find_duplicates(descriptions[:1500])
    b = find_duplicates(descriptions[:1500])
    assert np.array_equal(a.representative, b.representative)
