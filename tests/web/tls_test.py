"""tls_test.py — `qloop serve --tls-cert --tls-key`: the HTTPS server start.sh
started on the same store, with a certificate made for the test (verified as
the only trusted one): TLS 1.2 and 1.3 answer, the session cookie is Secure,
HSTS is sent, plain HTTP on the TLS port gets no answer, a sign-in and a
list work as over HTTP. Its user: leader."""
import http.client
import json
import socket
import ssl
import urllib.parse

from webtest import W, PASSWORD, TIMEOUT, check, finish

url = urllib.parse.urlsplit(open(f"{W}/tls.url").read().strip())
check("the address is https", url.scheme == "https", url.geturl())


def request(method, path, body=None, cookie=None, version=None):
    ctx = ssl.create_default_context(cafile=f"{W}/tls.crt")
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=ctx, timeout=TIMEOUT)
    headers = {"Content-Type": "application/json"}
    if cookie:
        headers["Cookie"] = cookie
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read(), conn.sock.version()
    finally:
        conn.close()


status, headers, body, version = request("POST", "/api/v1/session", {"login": "leader", "password": PASSWORD})
check("signed in over HTTPS", status == 200, f"{status} {body[:200]!r}")
cookie = headers.get("set-cookie", "")
check("the cookie is Secure, HttpOnly, SameSite=Strict",
      "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie)
check("HSTS", headers.get("strict-transport-security", "").startswith("max-age="), str(headers))
status, _, body, _ = request("GET", "/api/v1/reports/annual?year=2024", cookie=cookie.split(";")[0])
check("the session works over HTTPS", status == 200 and json.loads(body).get("year") == 2024, f"{status}")
for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
    try:
        status, _, _, got = request("GET", "/signin", version=v)
        check(f"{v.name} answers", status == 200 and got == v.name.replace("v1_", "v1."), f"{status} {got}")
    except (ssl.SSLError, OSError) as e:
        check(f"{v.name} answers", False, str(e))
s = socket.create_connection((url.hostname, url.port), timeout=TIMEOUT)
try:
    s.sendall(b"GET /signin HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = s.recv(100)
except OSError:
    answer = b""
s.close()
check("plain HTTP on the TLS port: no HTTP answer", not answer.startswith(b"HTTP/"), repr(answer[:40]))
finish()
