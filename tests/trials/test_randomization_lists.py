"""The allocation list generator: balanced permuted blocks, reproducible from the seed."""

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trials.enrollment.randomization import permuted_blocks, stratum_key


def test_same_seed_gives_the_same_list_and_other_seeds_differ():
    ratio = {"P25": 2, "P10": 1, "P1": 1}
    first = permuted_blocks("seed-a", ratio, [4, 8], 40)
    assert first == permuted_blocks("seed-a", ratio, [4, 8], 40)
    assert [s.arm for s in first] != [s.arm for s in permuted_blocks("seed-b", ratio, [4, 8], 40)]


def test_a_longer_list_extends_the_shorter_one():
    ratio = {"MDMA": 1, "PBO": 1}
    short = permuted_blocks("s", ratio, [2, 4], 10)
    assert permuted_blocks("s", ratio, [2, 4], 50)[: len(short)] == short


@settings(max_examples=150, deadline=None)
@given(
    seed=st.text(max_size=12),
    weights=st.lists(st.integers(1, 3), min_size=1, max_size=4),
    multiples=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    minimum=st.integers(1, 60),
)
def test_every_block_is_balanced_to_the_ratio(seed, weights, multiples, minimum):
    ratio = {f"A{index}": weight for index, weight in enumerate(weights)}
    unit = sum(weights)
    slots = permuted_blocks(seed, ratio, [unit * m for m in multiples], minimum)
    assert len(slots) >= minimum
    assert [s.sequence for s in slots] == list(range(1, len(slots) + 1))
    blocks: dict[int, Counter] = {}
    for slot in slots:
        blocks.setdefault(slot.block, Counter())[slot.arm] += 1
    for counts in blocks.values():
        size = sum(counts.values())
        assert size in {unit * m for m in multiples}
        assert counts == Counter({arm: weight * size // unit for arm, weight in ratio.items()})
    assert len({s.kit_code for s in slots}) == len(slots)


def test_block_sizes_are_mixed():
    slots = permuted_blocks("mix", {"A": 1, "B": 1}, [2, 4, 6], 300)
    sizes = Counter(Counter(s.block for s in slots).values())
    assert set(sizes) == {2, 4, 6}


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({}, "all"),
        ({"site": "LON"}, "site=LON"),
        ({"site": "NYC", "smoker": True}, "site=NYC;smoker=yes"),
    ],
)
def test_stratum_key(values, key):
    assert stratum_key(values) == key
