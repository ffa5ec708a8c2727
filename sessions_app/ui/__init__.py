"""Presentation: what the browser pages show, rendered from the services' selectors, and the template helpers
that render it (`workbench_tags`, loaded as `workbench_ui`). Views and consumers (the transport) send it; it
neither changes state nor knows how it is sent."""
