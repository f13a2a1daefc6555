"""The README's "alerts on the manager's phone" example is a config that works:
it loads, and apprise takes both of its destinations once the secrets are filled."""

from __future__ import annotations

from pathlib import Path

from locker.config import default_config_text, load_config
from locker_app.notify.channel import AppriseChannel, check_destinations

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_notify_section() -> str:
    section = README.read_text(encoding="utf-8").split("## Alerts on the manager's phone", 1)[1]
    return section.split("```toml", 1)[1].split("```", 1)[0]


def test_the_readme_notify_example_loads_and_apprise_takes_it(tmp_path):
    secrets = tmp_path / "notify-secrets.toml"
    secrets.write_text(
        'ntfy_topic = "nursery-x7q2"\nsmtp_user = "manager"\nsmtp_password = "p%40ss"\n'
    )
    secrets.chmod(0o640)
    example = readme_notify_section().replace(
        "/etc/nursery-locker/notify-secrets.toml", str(secrets)
    )
    config_file = tmp_path / "config.toml"
    config_file.write_text(default_config_text(data_dir=str(tmp_path)) + "\n" + example)
    config = load_config(config_file)
    assert [d.name for d in config.notify.destinations] == ["manager-phone", "office-email"]
    check_destinations(config)
    assert AppriseChannel(config).problems == []
