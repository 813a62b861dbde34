import pytest

from tinydetect.core.config import SplitConfig
from tinydetect.core.records import parse_record
from tinydetect.data.split import FOLDS, SplitError, deal_folds, fold_counts, split_records

from .conftest import shared_file


def test_no_group_straddles_splits_and_labels_are_stratified(labelled_records):
    splits = split_records(labelled_records, SplitConfig(val_fraction=0.2, test_fraction=0.2), seed=0)
    groups = {name: {r.group for r in records} for name, records in splits.items()}
    assert not groups["train"] & groups["val"]
    assert not groups["train"] & groups["test"]
    assert not groups["val"] & groups["test"]
    assert sum(map(len, splits.values())) == len(labelled_records)
    for records in splits.values():
        assert {r.label for r in records} == {"HUMAN", "AI"}
        ai_share = sum(r.label == "AI" for r in records) / len(records)
        assert 0.35 <= ai_share <= 0.65
    assert 0.1 <= len(splits["test"]) / len(labelled_records) <= 0.3


def test_split_is_seeded_and_independent_of_input_order(labelled_records):
    config = SplitConfig()
    first = split_records(labelled_records, config, seed=5)
    again = split_records(list(reversed(labelled_records)), config, seed=5)
    other = split_records(labelled_records, config, seed=6)
    ids = lambda splits: {name: sorted(r.id for r in records) for name, records in splits.items()}  # noqa: E731
    assert ids(first) == ids(again)
    assert ids(first) != ids(other)


def test_one_label_only_says_which_label_is_missing(human_records, labelled_records):
    with pytest.raises(SplitError, match=r"no AI texts .* let synth write them"):
        split_records(human_records, SplitConfig(), seed=0)
    ai_only = [r for r in labelled_records if r.label == "AI"]
    with pytest.raises(SplitError, match="no HUMAN texts"):
        split_records(ai_only, SplitConfig(), seed=0)


def test_too_few_groups_is_a_clear_error(labelled_records):
    with pytest.raises(SplitError, match=r"4 groups of texts \(2 of the rarer label\) cannot make train, val and test"):
        split_records(labelled_records[:2] + labelled_records[-2:], SplitConfig(), seed=0)


def many_groups(count):
    """`count` groups, each a human text and its AI rewrite."""
    rows = [parse_record({"id": f"h{i}", "text": f"text {i}", "label": "HUMAN", "group": f"g{i}"}, "") for i in range(count)]
    return rows + [parse_record({"id": f"a{i}", "text": f"rewrite {i}", "label": "AI", "group": f"g{i}"}, "")
                   for i in range(count)]


@pytest.mark.parametrize(("val_fraction", "test_fraction"), [(0.15, 0.2), (0.1, 0.4), (0.45, 0.45), (0.3, 0.05), (0.2, 0.33)])
def test_fractions_are_honoured_within_the_stated_tolerance(val_fraction, test_fraction):
    """Before, fractions were rounded to 1/k folds: test_fraction 0.4 gave 50% test, 0.45/0.45 gave 23/27/50%."""
    records = many_groups(300)
    splits = split_records(records, SplitConfig(val_fraction=val_fraction, test_fraction=test_fraction), seed=0)
    tolerance = 0.5 / FOLDS + 2 / len(records)  # half a fold, plus one group
    assert abs(len(splits["test"]) / len(records) - test_fraction) <= tolerance
    assert abs(len(splits["val"]) / len(records) - val_fraction) <= tolerance


def test_fractions_that_leave_nothing_to_train_on_are_refused():
    with pytest.raises(SplitError, match="leave nothing to train on"):
        fold_counts(SplitConfig(val_fraction=0.49, test_fraction=0.49), 20)


def test_a_label_in_few_large_groups_still_reaches_val_and_test():
    """KatFish: AI essays in 6 topic groups beside 1,000 single human reviews left val with no AI text."""
    humans = [parse_record({"id": f"h{i}", "text": f"review {i}", "label": "HUMAN"}, "") for i in range(400)]
    essays = [parse_record({"id": f"e{t}-{i}", "text": f"essay {t} {i}", "label": "AI" if i % 4 else "HUMAN",
                            "group": f"topic{t}"}, "") for t in range(6) for i in range(40)]
    splits = split_records(humans + essays, SplitConfig(), seed=0)
    for name in ("train", "val", "test"):
        assert {record.label for record in splits[name]} == {"HUMAN", "AI"}, name
    topics = {name: {r.group for r in records if r.group.startswith("topic")} for name, records in splits.items()}
    assert not topics["train"] & topics["val"] and not topics["train"] & topics["test"] and not topics["val"] & topics["test"]


def test_the_largest_groups_are_dealt_to_every_split_not_all_to_test():
    """The splitter puts its largest groups in the lowest folds; test took the first folds: 4 of 6 KatFish topics."""
    humans = [parse_record({"id": f"h{i}", "text": f"review {i}", "label": "HUMAN"}, "") for i in range(700)]
    essays = [parse_record({"id": f"e{t}-{i}", "text": f"essay {t} {i}", "label": "AI" if i % 4 else "HUMAN",
                            "group": f"topic{t}"}, "") for t in range(6) for i in range(70)]
    splits = split_records(humans + essays, SplitConfig(), seed=42)
    topics = {name: len({r.group for r in records if r.group.startswith("topic")}) for name, records in splits.items()}
    assert topics["train"] >= 3 and 1 <= topics["test"] <= 2 and topics["val"] >= 1, topics


@pytest.mark.parametrize("folds", [3, 5, 20, 37])
def test_dealing_gives_each_split_exactly_its_folds(folds):
    for test_folds in range(1, folds - 1):
        for val_folds in range(1, folds - test_folds):
            test, val = deal_folds(folds, test_folds, val_folds)
            assert (len(test), len(val)) == (test_folds, val_folds) and not set(test) & set(val)


def test_the_bilingual_benchmark_gives_every_split_an_essay_topic():
    """Before: split as one pool at seed 42, val got none of KatFish's six essay topics (test one, train five),
    so the bilingual run's threshold never saw a Korean AI text and labelled no Korean essay AI."""
    from benchmarks.quality import DATASETS, user_rows

    for name in DATASETS["both"]:
        shared_file(name)
    records = [parse_record(row, "") for name in DATASETS["both"] for row in user_rows(name)]
    splits = split_records(records, SplitConfig(), seed=42)
    for name, part in splits.items():
        assert {r.domain for r in part} == {r.domain for r in records}, name
        assert {r.label for r in part if r.domain == "essay"} == {"HUMAN", "AI"}, name


def test_every_domain_with_three_groups_reaches_every_split():
    """Domains of many small groups, few large ones, one label only, and one group (to train whole)."""
    reviews = [parse_record({"id": f"r{i}", "text": f"review {i}", "label": "HUMAN", "domain": "review"}, "")
               for i in range(300)]
    essays = [parse_record({"id": f"e{t}-{i}", "text": f"essay {t} {i}", "label": "AI" if i % 4 else "HUMAN",
                            "group": f"topic{t}", "domain": "essay"}, "") for t in range(6) for i in range(60)]
    blogs = [parse_record({"id": f"b{g}-{i}", "text": f"blog {g} {i}", "label": "AI" if i else "HUMAN",
                           "group": f"post{g}", "domain": "blog"}, "") for g in range(200) for i in range(4)]
    letters = [parse_record({"id": f"l{i}", "text": f"letter {i}", "label": "HUMAN", "group": "one-writer",
                             "domain": "letter"}, "") for i in range(5)]
    splits = split_records(reviews + essays + blogs + letters, SplitConfig(), seed=0)
    for name, records in splits.items():
        domains = {record.domain for record in records}
        assert {"review", "essay", "blog"} <= domains, (name, domains)
    assert {r.domain for r in splits["train"]} >= {"letter"} and all(r.domain != "letter" for r in splits["val"] + splits["test"])
    groups = {name: {r.group for r in records} for name, records in splits.items()}
    assert not groups["train"] & groups["val"] and not groups["train"] & groups["test"] and not groups["val"] & groups["test"]
    assert {r.label for r in splits["val"] if r.domain == "essay"} == {"HUMAN", "AI"}
    assert 0.12 < len(splits["val"]) / 1465 < 0.2 and 0.16 < len(splits["test"]) / 1465 < 0.25
