"""The IVR's rules, pure: what a caller hears next and where their keys lead. No Django, no I/O.

A menu plays its prompt and waits `timeout` seconds for one key. A key of the menu leads to another menu or
to a skill group's queue (the IVR is over); any other key, or no key in time, says `invalid_text` and plays the
prompt again, up to `max_retries` times; after that the IVR says goodbye and the call ends (`ivrGiveUp`).
The keys pressed that led somewhere are the session's `ivrPath` [{key, label}] and the CDR's IVRKeyPressed.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Choice:
    key: str
    label: str
    next_menu: int | None = None
    skill_group: int | None = None


@dataclass(frozen=True)
class Menu:
    id: int
    prompt: str
    choices: dict[str, Choice]
    timeout: float = 5.0
    max_retries: int = 2
    invalid_text: str = "Sorry, that is not one of the choices."
    goodbye_text: str = "Goodbye."


@dataclass(frozen=True)
class Play:
    """Say `say` (a text, or None), then play the menu's prompt and wait for a key."""
    menu: Menu
    say: str | None = None


@dataclass(frozen=True)
class Route:
    """The IVR is over: queue the call in `skill_group`."""
    skill_group: int


@dataclass(frozen=True)
class GiveUp:
    """No valid key after every retry: say goodbye and end the call."""
    say: str


@dataclass
class IvrRun:
    """One caller's way through the menus. `menus` maps menu ids to menus (a key to a missing menu is
    treated like an invalid key, so a half-configured IVR never strands a caller)."""

    menus: dict[int, Menu]
    start: int
    path: list[dict] = field(default_factory=list)
    current: Menu | None = None
    retries: int = 0

    def begin(self) -> Play:
        self.current = self.menus[self.start]
        return Play(self.current)

    def press(self, key: str) -> Play | Route | GiveUp:
        choice = self.current.choices.get(key)
        if choice is None or (choice.next_menu is not None and choice.next_menu not in self.menus):
            return self._retry()
        self.path.append({"key": choice.key, "label": choice.label})
        if choice.skill_group is not None:
            return Route(choice.skill_group)
        self.current, self.retries = self.menus[choice.next_menu], 0
        return Play(self.current)

    def timed_out(self) -> Play | GiveUp:
        return self._retry()

    def _retry(self) -> Play | GiveUp:
        if self.retries >= self.current.max_retries:
            return GiveUp(self.current.goodbye_text)
        self.retries += 1
        return Play(self.current, say=self.current.invalid_text)
