"""Template helpers of the workbench (`{% load workbench_ui %}`): inline SVG icons,
`ws-send` values, timers' first text, and a panel's empty state.

Icons are Feather icons (MIT licence, https://feathericons.com), inlined so the workbench needs no icon font
and no request per icon; each is decorative (`aria-hidden`), the control it sits in carries the label.
"""
from __future__ import annotations

import json

from django import template
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

PHONE = ('<path d="M22 16.92v3a2 2 0 0 1-2.18 2 19.79 19.79 0 0 1-8.63-3.07 19.5 19.5 0 0 1-6-6 '
         '19.79 19.79 0 0 1-3.07-8.67A2 2 0 0 1 4.11 2h3a2 2 0 0 1 2 1.72c.13.96.36 1.9.7 2.81a2 2 0 0 1-.45 2.11'
         'L8.09 9.91a16 16 0 0 0 6 6l1.27-1.27a2 2 0 0 1 2.11-.45c.91.34 1.85.57 2.81.7A2 2 0 0 1 22 16.92z"/>')
ICONS = {
    "phone": PHONE,
    "phone-out": '<polyline points="23 7 23 1 17 1"/><line x1="16" y1="8" x2="23" y2="1"/>' + PHONE,
    "phone-in": '<polyline points="16 2 16 8 22 8"/><line x1="23" y1="1" x2="16" y2="8"/>' + PHONE,
    "phone-off": ('<path d="M10.68 13.31a16 16 0 0 0 3.41 2.6l1.27-1.27a2 2 0 0 1 2.11-.45c.91.34 1.85.57 2.81.7'
                  'a2 2 0 0 1 1.72 2v3a2 2 0 0 1-2.18 2 19.79 19.79 0 0 1-8.63-3.07 19.42 19.42 0 0 1-3.33-2.67'
                  'm-2.67-3.34a19.79 19.79 0 0 1-3.07-8.63A2 2 0 0 1 4.11 2h3a2 2 0 0 1 2 1.72c.13.96.36 1.9.7 2.81'
                  'a2 2 0 0 1-.45 2.11L8.09 9.91"/><line x1="23" y1="1" x2="1" y2="23"/>'),
    "im": '<path d="M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z"/>',
    "voip": ('<path d="M3 18v-6a9 9 0 0 1 18 0v6"/><path d="M21 19a2 2 0 0 1-2 2h-1a2 2 0 0 1-2-2v-3a2 2 0 0 1 2-2h3z'
             'M3 19a2 2 0 0 0 2 2h1a2 2 0 0 0 2-2v-3a2 2 0 0 0-2-2H3z"/>'),
    "video": '<polygon points="23 7 16 12 23 17 23 7"/><rect x="1" y="5" width="15" height="14" rx="2" ry="2"/>',
    "video-off": ('<path d="M16 16v1a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2h2m5.66 0H14a2 2 0 0 1 2 2'
                  'v3.34l1 1L23 7v10"/><line x1="1" y1="1" x2="23" y2="23"/>'),
    "internal": ('<path d="M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2"/><circle cx="9" cy="7" r="4"/>'
                 '<path d="M23 21v-2a4 4 0 0 0-3-3.87"/><path d="M16 3.13a4 4 0 0 1 0 7.75"/>'),
    "mic": ('<path d="M12 1a3 3 0 0 0-3 3v8a3 3 0 0 0 6 0V4a3 3 0 0 0-3-3z"/><path d="M19 10v2a7 7 0 0 1-14 0v-2"/>'
            '<line x1="12" y1="19" x2="12" y2="23"/><line x1="8" y1="23" x2="16" y2="23"/>'),
    "mic-off": ('<line x1="1" y1="1" x2="23" y2="23"/><path d="M9 9v3a3 3 0 0 0 5.12 2.12M15 9.34V4'
                'a3 3 0 0 0-5.94-.6"/><path d="M17 16.95A7 7 0 0 1 5 12v-2m14 0v2a7 7 0 0 1-.11 1.23"/>'
                '<line x1="12" y1="19" x2="12" y2="23"/><line x1="8" y1="23" x2="16" y2="23"/>'),
    "pause": '<rect x="6" y="4" width="4" height="16" rx="1"/><rect x="14" y="4" width="4" height="16" rx="1"/>',
    "record": '<circle cx="12" cy="12" r="10"/><circle cx="12" cy="12" r="4" fill="currentColor"/>',
    "keypad": ''.join(f'<circle cx="{x}" cy="{y}" r="1.3"/>' for y in (4, 10, 16) for x in (6, 12, 18))
              + '<circle cx="12" cy="21" r="1.3"/>',
    "transfer": '<polyline points="15 14 20 9 15 4"/><path d="M4 20v-7a4 4 0 0 1 4-4h12"/>',
    "check": '<polyline points="20 6 9 17 4 12"/>',
    "checks": '<polyline points="17 6 8 16 4 12"/><polyline points="22 6 13 16 12.2 15.1"/>',
    "x": '<line x1="18" y1="6" x2="6" y2="18"/><line x1="6" y1="6" x2="18" y2="18"/>',
    "clock": '<circle cx="12" cy="12" r="10"/><polyline points="12 6 12 12 16 14"/>',
    "logout": ('<path d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4"/><polyline points="16 17 21 12 16 7"/>'
               '<line x1="21" y1="12" x2="9" y2="12"/>'),
    "sliders": ('<line x1="4" y1="21" x2="4" y2="14"/><line x1="4" y1="10" x2="4" y2="3"/>'
                '<line x1="12" y1="21" x2="12" y2="12"/><line x1="12" y1="8" x2="12" y2="3"/>'
                '<line x1="20" y1="21" x2="20" y2="16"/><line x1="20" y1="12" x2="20" y2="3"/>'
                '<line x1="1" y1="14" x2="7" y2="14"/><line x1="9" y1="8" x2="15" y2="8"/>'
                '<line x1="17" y1="16" x2="23" y2="16"/>'),
    "speaker": ('<polygon points="11 5 6 9 2 9 2 15 6 15 11 19 11 5"/><path d="M19.07 4.93a10 10 0 0 1 0 14.14M15.54 '
                '8.46a5 5 0 0 1 0 7.07"/>'),
    "speaker-off": ('<polygon points="11 5 6 9 2 9 2 15 6 15 11 19 11 5"/><line x1="23" y1="9" x2="17" y2="15"/>'
                    '<line x1="17" y1="9" x2="23" y2="15"/>'),
    "chevron-down": '<polyline points="6 9 12 15 18 9"/>',
    "send": '<line x1="22" y1="2" x2="11" y2="13"/><polygon points="22 2 15 22 11 13 2 9 22 2"/>',
    "zap": '<polygon points="13 2 3 14 12 14 11 22 21 10 12 10 13 2"/>',
    "alert": ('<circle cx="12" cy="12" r="10"/><line x1="12" y1="8" x2="12" y2="12"/>'
              '<line x1="12" y1="16" x2="12.01" y2="16"/>'),
    "inbox": ('<polyline points="22 12 16 12 14 15 10 15 8 12 2 12"/>'
              '<path d="M5.45 5.11L2 12v6a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2v-6l-3.45-6.89A2 2 0 0 0 16.76 4H7.24'
              'a2 2 0 0 0-1.79 1.11z"/>'),
    "delete": ('<path d="M21 4H8l-7 8 7 8h13a2 2 0 0 0 2-2V6a2 2 0 0 0-2-2z"/><line x1="18" y1="9" x2="12" y2="15"/>'
               '<line x1="12" y1="9" x2="18" y2="15"/>'),
    "users": ('<path d="M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2"/><circle cx="9" cy="7" r="4"/>'
              '<path d="M23 21v-2a4 4 0 0 0-3-3.87"/><path d="M16 3.13a4 4 0 0 1 0 7.75"/>'),
}
FILLED = {"keypad"}


@register.simple_tag
def icon(name: str, size: int = 18):
    body = ICONS[name]
    paint = 'fill="currentColor" stroke="none"' if name in FILLED else (
        'fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"')
    return mark_safe(f'<svg class="icon" viewBox="0 0 24 24" width="{int(size)}" height="{int(size)}" {paint} '
                     f'aria-hidden="true" focusable="false">{body}</svg>')


@register.tag
def empty_state(parser, token):
    """What a panel shows when it has nothing to list: `{% empty_state "icon" "Title" %}text{% endempty_state %}`
    (the text may hold template logic)."""
    arguments = token.split_contents()
    if len(arguments) != 3:
        raise template.TemplateSyntaxError(f"{arguments[0]} takes an icon name and a title")
    text = parser.parse(("endempty_state",))
    parser.delete_first_token()
    return EmptyStateNode(parser.compile_filter(arguments[1]), parser.compile_filter(arguments[2]), text)


class EmptyStateNode(template.Node):
    def __init__(self, icon_name, title, text):
        self.icon_name, self.title, self.text = icon_name, title, text

    def render(self, context) -> str:
        return render_to_string("workbench/partials/empty_state.html", {
            "icon_name": self.icon_name.resolve(context), "title": self.title.resolve(context),
            "text": self.text.render(context)})


@register.simple_tag
def wsvals(**values):
    """`hx-vals` JSON of a `ws-send` control: `{% wsvals action="hold" sessionId=s.id %}` (auto-escaped)."""
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


@register.filter
def clock(milliseconds) -> str:
    """A duration as m:ss or h:mm:ss."""
    seconds = max(0, int(milliseconds or 0) // 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@register.simple_tag
def type_icon(session_type: str, direction: str = "in", size: int = 18):
    if session_type == "phone":
        return icon("phone-out" if direction == "out" else "phone-in", size)
    return icon(session_type, size)


@register.simple_tag
def keypad_keys():
    return [("1", ""), ("2", "ABC"), ("3", "DEF"), ("4", "GHI"), ("5", "JKL"), ("6", "MNO"), ("7", "PQRS"),
            ("8", "TUV"), ("9", "WXYZ"), ("*", ""), ("0", "+"), ("#", "")]


@register.simple_tag
def avatar(card, size: str = ""):
    """The other side's picture if the session gave one, else their initials on the session type's colour."""
    if card.get("avatar"):
        return format_html('<img class="avatar {}" src="{}" alt="" referrerpolicy="no-referrer">', size, card["avatar"])
    inside = card["initials"] or type_icon(card["type"], card.get("direction", "in"), 22 if size else 16)
    return format_html('<span class="avatar {} avatar-{}" aria-hidden="true">{}</span>', size, card["type"], inside)
