"""Concealed allocation lists: permuted blocks and strata (pure)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# No 0/O or 1/I: kit codes are read aloud and copied by hand.
KIT_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
KIT_LENGTH = 8


@dataclass(frozen=True)
class Slot:
    sequence: int
    block: int
    arm: str
    kit_code: str


def permuted_blocks(
    seed: str, ratio: Mapping[str, int], block_sizes: Sequence[int], minimum: int
) -> list[Slot]:
    """Whole blocks, each a shuffled multiple of the ratio, until at least `minimum` slots.

    Block sizes are drawn at random from `block_sizes` so the end of a block cannot be guessed.
    Every block is balanced to the ratio; a longer list from the same seed starts with the
    shorter one, so a list can be extended without changing what was already given.
    """
    unit = sum(ratio.values())
    generator = random.Random(seed)
    slots: list[Slot] = []
    block = 0
    while len(slots) < minimum:
        block += 1
        size = generator.choice(list(block_sizes))
        arms = [arm for arm, weight in sorted(ratio.items()) for _ in range(weight * size // unit)]
        generator.shuffle(arms)
        for arm in arms:
            kit = "".join(generator.choice(KIT_ALPHABET) for _ in range(KIT_LENGTH))
            slots.append(Slot(len(slots) + 1, block, arm, f"K-{kit}"))
    return slots


def stratum_key(values: Mapping[str, object]) -> str:
    """The canonical name of a stratum: 'site=LON;sex=female', or 'all' when unstratified."""
    if not values:
        return "all"
    return ";".join(f"{name}={_text(value)}" for name, value in sorted(values.items()))


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
