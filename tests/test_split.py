import pytest

from tinydetect.core.config import SplitConfig
from tinydetect.data.split import SplitError, split_records


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


def test_one_label_only_is_a_clear_error(human_records):
    with pytest.raises(SplitError, match="needs both HUMAN and AI"):
        split_records(human_records, SplitConfig(), seed=0)


def test_too_few_groups_is_a_clear_error(labelled_records):
    with pytest.raises(SplitError, match="groups cannot be split"):
        split_records(labelled_records[:2] + labelled_records[-2:], SplitConfig(), seed=0)
    with pytest.raises(SplitError, match="cannot hold out 20% of 6 texts"):
        split_records(labelled_records[:3] + labelled_records[-3:], SplitConfig(), seed=0)
