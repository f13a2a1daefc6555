"""The bookkeeping of a card halted on the reader (the chip side is in test_reader.py)."""

from __future__ import annotations

import pytest

from hardware.reader_resting import RestingCard


def test_no_check_is_due_without_a_halted_card():
    assert not RestingCard(1.0).due(1e9)


def test_a_check_falls_due_every_check_s_while_it_answers():
    card = RestingCard(1.0)
    card.halted("04A1B2C3", now=10.0)
    assert not card.due(10.9)
    assert card.due(11.0)
    card.checked(True, now=11.0)
    assert not card.due(11.5)
    assert card.due(12.0)


def test_an_unanswered_check_means_the_card_has_gone():
    card = RestingCard(1.0)
    card.halted("04A1B2C3", now=10.0)
    card.checked(False, now=11.0)
    assert card.uid is None
    assert not card.due(1e9)


def test_an_answered_check_counts_once_two_quiet_polls_followed_it():
    card = RestingCard(1.0)
    card.halted("04A1B2C3", now=10.0)
    assert card.quiet_poll() is None  # nothing to confirm yet
    card.checked(True, now=11.0)
    assert card.quiet_poll() is None
    assert card.quiet_poll() == 11.0
    assert card.quiet_poll() is None


def test_a_card_that_came_back_awake_cancels_the_unconfirmed_check():
    card = RestingCard(1.0)
    card.halted("04A1B2C3", now=10.0)
    card.checked(True, now=11.0)
    card.forget()  # a REQA was answered: the card was powered afresh
    assert card.quiet_poll() is None
    assert card.uid is None


def test_the_check_interval_must_be_positive():
    with pytest.raises(ValueError):
        RestingCard(0)
