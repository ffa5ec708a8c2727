"""Presentation: what the browser pages show, rendered from the services' selectors (its template helpers are
in `sessions_app/templatetags/workbench_ui.py`, where Django looks for them). Views and consumers (the transport)
send it; it neither changes state nor knows how it is sent."""
