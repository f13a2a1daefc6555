"""Shared test support (like gpiozero's ``testing`` fixtures): tests import from here,
never from one another."""
