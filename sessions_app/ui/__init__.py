"""Presentation: what the browser pages show, rendered from the services' selectors. Views and consumers (the
transport) send it; it neither changes state nor knows how it is sent."""
