"""Padmé: never shorter, monotone, bounded overhead, few distinct sizes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from archive.encoding import padme

SETTINGS = settings(max_examples=100, deadline=None)
lengths = st.one_of(st.integers(min_value=0, max_value=2**20), st.integers(min_value=0, max_value=2**44))


@SETTINGS
@given(lengths)
def test_never_shorter(length):
    assert padme(length) >= length


@SETTINGS
@given(lengths, lengths)
def test_monotone(a, b):
    a, b = min(a, b), max(a, b)
    assert padme(a) <= padme(b)


@SETTINGS
@given(st.integers(min_value=1, max_value=2**44))
def test_overhead_is_at_most_12_percent(length):
    assert padme(length) - length <= 0.12 * length


@SETTINGS
@given(lengths)
def test_idempotent(length):
    assert padme(padme(length)) == padme(length)


@SETTINGS
@given(st.integers(min_value=2, max_value=2**44))
def test_leaks_only_log_log_bits(length):
    """E = floor(log2 L), S = floor(log2 E) + 1: the low E - S bits of the result are zero,
    so within [2**E, 2**(E+1)) only 2**S sizes (O(log log L) bits) can be told apart."""
    padded = padme(length)
    e = length.bit_length() - 1
    s = e.bit_length()
    assert padded % (1 << (e - s)) == 0
    assert padded - length < (1 << (e - s))   # the smallest such multiple, no more


def test_few_distinct_sizes_per_power_of_two():
    for e in range(2, 16):
        sizes = {padme(n) for n in range(2**e, 2**(e + 1))}
        assert len(sizes) <= 2 ** e.bit_length() + 1   # the +1: rounding up to 2**(E+1) itself


def test_overhead_bound_is_tight_somewhere():
    worst = max((padme(n) - n) / n for n in range(1, 5000))
    assert 0.10 < worst <= 0.12
