"""The manager's panel in a real browser, on a running simulated nursery."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.support.demo import log_in


def test_login_shows_the_locker_bank(page: Page):
    page.goto("/")
    assert "/login" in page.url  # the panel needs a login
    log_in(page)
    expect(page.get_by_role("heading", name="Locker bank")).to_be_visible()
    expect(page.locator("#slot-grid > li")).to_have_count(20)
    expect(page.get_by_test_id("slot-19-state")).to_contain_text("locked in")


def test_wrong_password_is_refused(page: Page):
    page.goto("/login")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    expect(page.get_by_text("wrong user name or password", exact=False)).to_be_visible()


def present(page: Page, name: str) -> None:
    """Choose ``name``'s badge on the simulator and present it."""
    page.get_by_test_id("sim-badge-select").select_option(label=_badge_label(page, name))
    page.get_by_test_id("sim-present").click()
    expect(page.locator("#sim")).to_have_attribute("aria-busy", "false")


def _badge_label(page: Page, name: str) -> str:
    options = page.get_by_test_id("sim-badge-select").locator("option").all_inner_texts()
    return next(text for text in options if text.startswith(name))


def test_deposit_and_refusal_played_on_the_simulator_change_the_grid(page: Page):
    log_in(page)
    page.goto("/sim")
    message = page.get_by_test_id("sim-message")
    present(page, "Emily Clarke")
    # The simulator says what the controller decided, not only that a card was held.
    expect(message).to_have_text(
        "Emily Clarke's badge opened slot 1 for a device to go in: put it in and close the door."
    )
    # The sprung door pops open; the phone goes in and the door shuts.
    expect(page.get_by_test_id("sim-state-1")).to_have_text("Open for a device to go in")
    page.get_by_test_id("sim-device-in-1").click()
    expect(page.locator("#sim")).to_have_attribute("aria-busy", "false")
    expect(message).to_contain_text("Slot 1: device put in.")
    page.get_by_test_id("sim-door-close-1").click()
    expect(message).to_have_text(
        "Slot 1: door closed. Emily Clarke's device is in slot 1: the slot locked."
    )
    expect(page.get_by_test_id("sim-state-1")).to_have_text("Device locked in")

    page.goto("/")
    expect(page.get_by_test_id("slot-1-state")).to_have_text("Device locked in")
    expect(page.get_by_test_id("slot-1-occupant")).to_contain_text("Emily Clarke")

    # Asking for it back before a break is refused, and the grid does not change.
    page.goto("/sim")
    present(page, "An unknown card")  # another card first: the reader debounces a repeat
    expect(message).to_contain_text("is not known: nothing opened.")
    present(page, "Emily Clarke")
    expect(message).to_contain_text(
        "Refused: Emily Clarke's badge opened nothing. On shift and not on a break."
    )
    refusal = page.locator("#sim-log li[data-kind='badge.refused']")
    expect(refusal.first).to_be_visible()
    expect(page.get_by_test_id("sim-state-1")).to_have_text("Device locked in")
    page.goto("/")
    expect(page.get_by_test_id("slot-1-state")).to_have_text("Device locked in")


def test_importing_a_rota_with_a_bad_row_shows_the_error(page: Page, tmp_path):
    log_in(page)
    page.goto("/rota")
    rota = tmp_path / "rota.csv"
    rota.write_text(
        "date,name,start,end,breaks\n"
        "2026-01-06,Emily Clarke,08:00,16:00,12:00-12:30\n"
        "2026-01-06,Nobody Known,08:00,16:00,\n"
        "2026-01-06,Olivia Hughes,17:00,09:00,\n"
    )
    page.get_by_test_id("rota-import-open").click()
    page.get_by_test_id("rota-file").set_input_files(str(rota))
    page.get_by_test_id("rota-import").click()
    problems = page.get_by_test_id("rota-problems")
    expect(problems).to_be_visible()
    expect(page.get_by_test_id("rota-problem-3")).to_contain_text("Nobody Known")
    expect(page.get_by_test_id("rota-problem-4")).to_be_visible()
    expect(page.get_by_test_id("rota-problem-2")).to_have_count(0)


def test_an_emergency_grant_opens_the_slot_and_shows_in_the_override_log(page: Page):
    log_in(page)
    page.goto("/sim")
    present(page, "Priya Shah")
    slot = page.locator("[data-testid^=sim-slot-][data-state=open_for_deposit]")
    expect(slot).to_have_count(1)
    number = slot.get_attribute("data-testid").removeprefix("sim-slot-")
    page.get_by_test_id(f"sim-device-in-{number}").click()
    expect(page.locator("#sim")).to_have_attribute("aria-busy", "false")
    page.get_by_test_id(f"sim-door-close-{number}").click()
    expect(page.get_by_test_id(f"sim-state-{number}")).to_have_text("Device locked in")

    page.goto("/actions#grant")
    form = page.get_by_test_id("grant-form")
    form.locator("select").select_option(label="Priya Shah")
    form.locator("input[type=radio][value=emergency]").check()
    form.locator("input[type=radio][value=now]").check()
    form.locator("input[type=number]").fill("20")
    form.get_by_test_id("grant-submit").click()
    expect(page.locator(".flash").first).to_be_visible()

    page.goto("/")
    expect(page.get_by_test_id(f"slot-{number}-state")).to_contain_text(
        "Open for the device to be taken"
    )
    page.goto("/log/overrides")
    grant = page.locator("[data-kind='grant.created']").first
    expect(grant).to_contain_text("Priya Shah")
    expect(grant).to_contain_text("mergency")
    expect(grant.locator("[data-testid$=-by]")).to_contain_text("manager")


def test_the_daily_report_prints(page: Page, tmp_path):
    log_in(page)
    page.goto("/report")
    expect(page.get_by_test_id("report")).to_be_visible()
    expect(page.get_by_test_id("verify-line")).to_contain_text("erified")
    expect(page.locator("[data-testid^=person-] svg").first).to_be_visible()
    expect(page.get_by_test_id("print")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.locator("nav").first).to_be_hidden()
    pdf = tmp_path / "report.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    assert pdf.read_bytes().startswith(b"%PDF")
    assert pdf.stat().st_size > 10_000


def test_a_persons_details_are_changed_from_the_people_page(page: Page):
    log_in(page)
    page.goto("/people")
    row = page.locator("tr", has=page.get_by_text("Megan Hall", exact=True))
    row.get_by_role("link", name="Change…").click()
    expect(page.get_by_role("heading", name="Change Megan Hall")).to_be_visible()
    page.get_by_label("Name").fill("Megan Hall-Jones")
    page.get_by_label("May check out the setting's own devices", exact=False).check()
    page.get_by_role("button", name="Save the changes").click()
    expect(
        page.get_by_text("Changed the name, the setting's devices permission of Megan Hall-Jones.")
    ).to_be_visible()
    renamed = page.locator("tr", has=page.get_by_text("Megan Hall-Jones", exact=True))
    expect(renamed.get_by_test_id(re.compile(r"person-\d+-setting"))).to_have_text("Yes")


def test_the_demo_keeps_its_config_and_database_from_other_users(demo):
    for name in ("config.toml", "locker.db", "secret_key"):
        assert (demo.data_dir / name).stat().st_mode & 0o007 == 0, name
