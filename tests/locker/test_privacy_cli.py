"""``locker person forget`` and ``locker person hold``: clear answers, exit statuses."""

from __future__ import annotations


def test_hold_blocks_forget_until_released_and_the_log_still_verifies(cli, tmp_path):
    cli("staff", "add", "Aisha Khanzada", "--badge", "A4B5C6D7")
    printed = cli("log", "verify").output.split()[-2:]
    no_reason = cli("person", "hold", "Aisha Khanzada")
    assert no_reason.exit_code == 1 and "say why the hold is needed" in no_reason.output
    held = cli("person", "hold", "1", "--reason", "allegation 2026-14")
    assert held.exit_code == 0 and "Aisha Khanzada (id 1) is on legal hold" in held.output
    refused = cli("person", "forget", "Aisha Khanzada")
    assert refused.exit_code == 1 and "on legal hold (allegation 2026-14" in refused.output
    assert cli("person", "hold", "1", "--release").exit_code == 0
    forgotten = cli("person", "forget", "Aisha Khanzada")
    assert forgotten.exit_code == 0, forgotten.output
    assert "now Former staff #1" in forgotten.output
    assert "Former staff #1" in cli("staff", "list").output
    verified = cli("log", "verify", "--checkpoint", ":".join(printed))
    assert verified.exit_code == 0, verified.output
    exported = cli("log", "export", "--format", "jsonl").output
    assert "Former staff #1" in exported and "Aisha" not in exported
    data = (tmp_path / "locker.db").read_bytes()
    assert b"Aisha" not in data and b"A4B5C6D7" not in data


def test_an_unknown_person_is_named(cli):
    result = cli("person", "forget", "Nobody Here")
    assert result.exit_code == 1
    assert "there is nobody with the name 'Nobody Here'" in result.output
    assert "nobody with id 42" in cli("person", "hold", "42", "--reason", "x").output


def test_an_account_is_linked_to_its_person_and_forgotten_with_them(cli, tmp_path):  # noqa: F811
    cli("staff", "add", "Aisha Khanzada", "--badge", "A4B5C6D7")
    password = "a long password\n"
    added = cli("user", "add", "room2", "--role", "manager", "--person", "1", input=password)
    assert added.exit_code == 0 and "linked to Aisha Khanzada (id 1)" in added.output
    # A user name that spells a person's name is only a suggestion.
    named = cli("user", "add", "aisha.khanzada", "--role", "viewer", input=password)
    assert "linked to nobody" in named.output
    assert "locker user link aisha.khanzada --person 1" in named.output
    exported = cli("person", "export", "1", "--out", str(tmp_path / "a.zip"))
    assert exported.exit_code == 0, exported.output
    assert "the panel account aisha.khanzada is linked to nobody" in exported.output
    assert "room2" not in exported.output  # linked: in the export, nothing to say
    assert "give either" in cli("user", "link", "aisha.khanzada").output
    assert "no panel account 'nobody'" in cli("user", "link", "nobody", "--nobody").output
    relinked = cli("user", "link", "aisha.khanzada", "--nobody")
    assert relinked.exit_code == 0 and "already linked to nobody" in relinked.output
    printed = cli("log", "verify").output.split()[-2:]
    assert cli("person", "forget", "1").exit_code == 0
    assert cli("log", "verify", "--checkpoint", ":".join(printed)).exit_code == 0
    data = (tmp_path / "locker.db").read_bytes()
    assert b"room2" not in data and b"Aisha" not in data
    assert cli("user", "link", "aisha.khanzada", "--person", "1").exit_code == 1
