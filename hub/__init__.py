"""The group hub: many nurseries' logs and live state in one view, on PostgreSQL.

An outer layer beside the panel: it imports the site's chain code from
``locker`` (to verify what sites ship with their own canonical encoding) and a
few of the panel's helpers from ``web``; ``locker`` never imports it. The hub
is never in a site's unlock path.
"""
