"""A shop's page with the web call widget, from which a customer calls, for the browser tests of web calls.

A module makes its `shop` fixture with `shop = shop_fixture("server")`: the page, loading the call widget of the
live server that the fixture `server` gives, on a port of its own for the whole module; the fixture's value is
the page's URL. The page records the widget's events in `window.callEvents`.
"""
from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer

import pytest

from testing.serving import running

from .browser import PageHandler, html_page

CUSTOMER_PAGE = html_page("Acme Shop", body="""\
<h1>Acme Shop</h1><p>Questions? Call us from this page.</p>
<script>
  window.callEvents = [];
  const s = document.createElement('script');
  s.src = __WIDGET__;
  s.dataset.sdkAppId = '1400000001';
  s.crossOrigin = 'anonymous';
  s.onload = () => {
    for (const name of ['queued', 'ringing', 'accepted', 'ended']) tcccCall.on(name, (data) => window.callEvents.push({ name, data }));
  };
  document.body.appendChild(s);
</script>
""")


class ShopPage(PageHandler):
    widget_url = ""

    def do_GET(self):
        self.send_page(CUSTOMER_PAGE.replace("__WIDGET__", json.dumps(self.widget_url)).encode())


class CallShopServer:
    """The shop's page with the call widget of the live server at `server_url`, on a port of its own."""

    def __init__(self, server_url: str):
        handler = type("Handler", (ShopPage,), {"widget_url": server_url + "/widget/call.js"})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def start(self) -> None:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def shop_fixture(server: str):
    """A module-scoped `shop` fixture (the page's URL) whose widget calls the live server of the fixture `server`."""
    @pytest.fixture(scope="module")
    def shop(request):
        with running(CallShopServer(request.getfixturevalue(server).url)) as page_server:
            yield page_server.url

    return shop
