"""webtest.py — what the portal's tests share: the server start.sh started
(its address, the store, the passwords, the system's API key), an HTTP client
over loopback (python's http.client, a timeout on every request) with its
own session cookie, and the checks that count failures."""
import http.client
import json
import os
import sqlite3
import sys
import urllib.parse

W = os.environ["QLOOP_WEB_DIR"]
URL = open(os.path.join(W, "url")).read().strip()
HOST = urllib.parse.urlsplit(URL)
PASSWORD = open(os.path.join(W, "password")).read().strip()
KEY = open(os.path.join(W, "key")).read().strip()
TIMEOUT = 30  # seconds for any one request
FAILS = 0


def ok(what):
    print("ok:", what)


def fail(what):
    global FAILS
    FAILS += 1
    print("FAIL:", what, file=sys.stderr)


def check(what, cond, detail=""):
    if cond:
        ok(what)
    else:
        fail(f"{what} {detail}")


def finish():
    if FAILS:
        print(f"{FAILS} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("all checks passed")


def db():
    """The store, read-only (to check what a request changed)."""
    return sqlite3.connect(f"file:{W}/q.db?mode=ro", uri=True, timeout=10)


def ticket_id(rule):
    with db() as c:
        return c.execute("SELECT id FROM tickets WHERE rule = ?", (rule,)).fetchone()[0]


def ticket_state(tid):
    with db() as c:
        return c.execute("SELECT state FROM tickets WHERE id = ?", (tid,)).fetchone()[0]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def headers_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class Client:
    """One user agent: its session cookie and CSRF value."""

    def __init__(self, bearer=None):
        self.cookie = None
        self.csrf = None
        self.bearer = bearer

    def request(self, method, path, body=None, headers=None, csrf=True, form=False):
        h = dict(headers or {})
        if self.cookie:
            h["Cookie"] = self.cookie
        if self.bearer:
            h["Authorization"] = "Bearer " + self.bearer
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            if form:
                body = dict(body or {})
                body["csrf"] = self.csrf
            else:
                h["X-CSRF-Token"] = self.csrf
        data = None
        if body is not None:
            if form:
                data = urllib.parse.urlencode(body).encode()
                h["Content-Type"] = "application/x-www-form-urlencoded"
            elif isinstance(body, (bytes, str)):
                data = body.encode() if isinstance(body, str) else body
                h.setdefault("Content-Type", "application/json")
            else:
                data = json.dumps(body).encode()
                h["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(HOST.hostname, HOST.port, timeout=TIMEOUT)
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            resp = Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()
        for c in resp.headers_all("Set-Cookie"):
            name, _, rest = c.partition("=")
            if name == "qloop_session":
                value = rest.split(";")[0]
                self.cookie = f"qloop_session={value}" if value else None
        return resp

    def signin(self, login, password=PASSWORD):
        r = self.request("POST", "/api/v1/session", {"login": login, "password": password})
        if r.status == 200:
            self.csrf = r.json()["csrf"]
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)


def signed_in(login):
    c = Client()
    r = c.signin(login)
    if r.status != 200:
        fail(f"sign in as {login}: {r.status} {r.text}")
    return c
