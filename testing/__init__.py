"""What tests and benchmarks both drive: a live server, the servers a cluster needs, peers, the browser.

Not part of the product (nothing under `sessions_app/` or `workbench/` imports it). `tests/` holds the tests and
their pytest fixtures; what a benchmark needs too lives here, once, so that `bench/` never imports `tests/`.
"""
