"""The sample nursery ``locker demo`` runs: config, people, badges, a rota, accounts.

Everything here goes through the same functions the CLI and the panel use, so
the demo exercises the real product on simulated hardware.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime, timedelta
from pathlib import Path

import tomli_w

from locker.accounts import add_account
from locker.config import Config, default_config_text, parse_config
from locker.db import Database, migrate
from locker.models import Slot
from locker.people import add_person
from locker.rota_file import import_rota

DEMO_USER = "manager"
DEMO_PASSWORD = "manager-demo"
STAFF_SLOTS, VISITOR_SLOTS, SETTING_SLOTS = 16, 2, 2
FIRST_SIM_PIN = 30
#: ``locker demo --slots N``: at most this many slots (seven expanders).
MAX_DEMO_SLOTS = 32
#: Slots the Pi's own header carries (the default config's); more go on expanders.
HEADER_SLOTS = 4
#: Slots per MCP23017: five slots of three lines each (B7 spare), never split.
SLOTS_PER_EXPANDER = 5

#: (name, role, badge UID, may check out setting devices)
PEOPLE = [
    ("Sarah Thompson", "manager", "04A1B2C3D4E5F6", True),
    ("James Patel", "manager", "5A3C9E01", True),
    ("Emily Clarke", "staff", "1B2C3D4E", True),
    ("Olivia Hughes", "staff", "2C3D4E5F", False),
    ("Amelia Wright", "staff", "3D4E5F60", False),
    ("Grace Robinson", "staff", "4E5F6071", True),
    ("Chloe Evans", "staff", "5F607182", False),
    ("Jessica Walker", "staff", "60718293", False),
    ("Sophie Turner", "staff", "718293A4", False),
    ("Hannah Baker", "staff", "8293A4B5", False),
    ("Priya Shah", "staff", "93A4B5C6", False),
    ("Aisha Khan", "staff", "A4B5C6D7", False),
    ("Lucy Morgan", "staff", "B5C6D7E8", False),
    ("Megan Hall", "staff", "C6D7E8F9", False),
]
#: (start, end, break start, break end) local times, handed out in turn.
PATTERNS = [
    ("07:30", "15:30", "11:30", "12:00"),
    ("08:00", "16:00", "12:00", "12:30"),
    ("08:30", "16:30", "12:30", "13:00"),
    ("09:00", "17:00", "13:00", "13:30"),
    ("10:00", "18:00", "13:30", "14:00"),
]
ROTA_DAYS_BEFORE, ROTA_DAYS_AFTER = 7, 90


def write_demo_config(
    config_file: Path, *, port: int, start: datetime, speed: float, slots: int | None = None
) -> None:
    """Write the demo's config: a 20-slot simulated bank (16 staff, 2 visitor, 2 setting).

    With ``slots``, a bank of that many wired as a real one would be: on the
    Pi's header up to :data:`HEADER_SLOTS`, else every slot on simulated
    MCP23017 expanders. The data (database, secrets, the simulated world)
    lives beside the file.
    """
    data_dir = config_file.parent
    raw = tomllib.loads(default_config_text(data_dir=str(data_dir)))
    raw["site_name"] = "Little Acorns Nursery (demo)"
    raw["hardware"] = {
        "backend": "simulated",
        "pin_factory": "",
        "sim_start": start.isoformat(),
        "sim_speed": speed,
    }
    raw["web"].update(host="127.0.0.1", port=port, secret_key_file=str(data_dir / "secret_key"))
    kinds = ["staff"] * STAFF_SLOTS + ["visitor"] * VISITOR_SLOTS + ["setting"] * SETTING_SLOTS
    pins = [_sim_pins(n) for n in range(1, len(kinds) + 1)]
    if slots is not None:
        kinds = demo_kinds(slots)
        pins = [tuple(s[k] for k in PIN_KEYS) for s in raw["slots"]][:slots]
        if slots > HEADER_SLOTS:
            raw["expanders"] = demo_expanders(slots)
            pins = [expander_pins(n) for n in range(1, slots + 1)]
    labels = {"visitor": "Visitor {}", "setting": "Tablet {}"}
    counters = {"staff": 0, "visitor": 0, "setting": 0}
    raw["slots"] = []
    for number, kind in enumerate(kinds, start=1):
        counters[kind] += 1
        raw["slots"].append(
            {
                "number": number,
                "kind": kind,
                "label": labels.get(kind, "{}").format(counters[kind]),
                **dict(zip(PIN_KEYS, pins[number - 1], strict=True)),
            }
        )
    parse_config(raw)  # refuse to write a config the daemon would refuse
    config_file.write_text(tomli_w.dumps(raw), encoding="utf-8")


PIN_KEYS = ("lock_pin", "door_pin", "sensor_pin")


def _sim_pins(number: int) -> tuple[int, int, int]:
    pin = FIRST_SIM_PIN + 3 * (number - 1)
    return pin, pin + 1, pin + 2


def demo_kinds(slots: int) -> list[str]:
    """What ``slots`` demo slots are for: two visitor and two setting slots in a big
    bank, one each in a small one, the rest (at least one) for staff."""
    if not 1 <= slots <= MAX_DEMO_SLOTS:
        raise ValueError(f"a demo bank has 1 to {MAX_DEMO_SLOTS} slots, not {slots}")
    each = 2 if slots >= 10 else 1 if slots >= 3 else 0
    return ["staff"] * (slots - 2 * each) + ["visitor"] * each + ["setting"] * each


def demo_expanders(slots: int) -> list[dict[str, object]]:
    """The ``[[expanders]]`` for ``slots`` slots: one per five, on bus 1, INTA on GPIO4."""
    count = -(-slots // SLOTS_PER_EXPANDER)
    return [
        {"name": f"mcp{i}", "bus": 1, "address": 0x20 + i, "interrupt_pin": 4} for i in range(count)
    ]


def expander_pins(number: int) -> tuple[str, str, str]:
    """Slot ``number``'s lock, door and sensor lines: three in a row on its expander."""
    expander, place = divmod(number - 1, SLOTS_PER_EXPANDER)
    first = 3 * place
    return tuple(  # type: ignore[return-value]
        f"mcp{expander}:{'AB'[line // 8]}{line % 8}" for line in range(first, first + 3)
    )


def rota_csv(names: list[str], first: date, last: date) -> str:
    """A rota for every day from ``first`` to ``last``: everybody, patterns in turn."""
    lines = ["date,name,start,end,breaks"]
    day = first
    while day <= last:
        for i, name in enumerate(names):
            start, end, b_start, b_end = PATTERNS[(i + day.toordinal()) % len(PATTERNS)]
            lines.append(f"{day.isoformat()},{name},{start},{end},{b_start}-{b_end}")
        day += timedelta(days=1)
    return "\n".join(lines) + "\n"


def seed(config: Config, db: Database, *, at: datetime) -> None:
    """People, badges, the rota, the panel account and the stocked setting slots."""
    migrate(db.engine)
    actor = "demo"
    with db.write() as session:
        for name, role, uid, setting in PEOPLE:
            add_person(
                session, name, role=role, badge=uid, setting_authorised=setting, at=at, actor=actor
            )
        add_account(session, DEMO_USER, "manager", DEMO_PASSWORD, at=at, actor=actor)
        add_account(session, "deputy", "manager", "deputy-demo-1", at=at, actor=actor)
        today = at.astimezone(config.tz).date()
        text = rota_csv(
            [p[0] for p in PEOPLE],
            today - timedelta(days=ROTA_DAYS_BEFORE),
            today + timedelta(days=ROTA_DAYS_AFTER),
        )
        import_rota(session, text, tz=config.tz, at=at, actor=actor)
        # The setting's tablets are already in their slots when the demo starts.
        for slot in config.slots:
            held = slot.kind == "setting"
            session.add(
                Slot(
                    number=slot.number,
                    kind=slot.kind,
                    label=slot.label or str(slot.number),
                    state="held" if held else "free",
                    since=at,
                    device_present=held,
                )
            )
        session.commit()


def setting_slots(config: Config) -> list[int]:
    """Numbers of the setting slots (the simulated world puts a tablet in each)."""
    return [s.number for s in config.slots if s.kind == "setting"]
