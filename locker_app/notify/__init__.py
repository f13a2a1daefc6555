"""Notifications to the manager: the outbox sender, its apprise channel, the daily
summary and the panel process's watch on the controller.

All of it runs in the panel's process (a background thread, see
:mod:`locker_app.notify.worker`) and never in the controller's loop: a slow or
unreachable mail server costs the locks nothing. The policy (who wants which
alert, quiet hours) is the core's: :mod:`locker.notify_policy`.
"""
