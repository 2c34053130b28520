#!/usr/bin/env python3
"""Drives Debian's headless Chromium through chromedriver, with WebDriver's
HTTP protocol (W3C) over urllib: no selenium, nothing from npm.

Opens the status page, signs in with a token through the page's form, waits
for the table (as the server rendered it, then as the page's script
refreshed it from /v1/accounts), reads the text a person sees and checks it
against --expect (fixed strings), --expect-re (regular expressions) and
--absent (strings that must not be visible, e.g. the token). Saves a
screenshot PNG. Prints one "ok"/"not ok" line a check; exits 1 on any
failure, 2 when the browser cannot be driven at all.
"""
import argparse
import base64
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
failures = 0
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def check(desc, cond, detail=""):
    global failures
    if cond:
        print("ok - " + desc)
    else:
        failures += 1
        print("not ok - " + desc + (": " + detail if detail else ""))


def wd(base, method, path, body=None, timeout=60):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with opener.open(req, timeout=timeout) as r:
            return json.loads(r.read().decode() or "{}").get("value")
    except urllib.error.HTTPError as e:
        raise RuntimeError("%s %s: HTTP %d %s" % (method, path, e.code, e.read().decode()[:400]))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def find(base, sid, css):
    try:
        v = wd(base, "POST", "/session/%s/element" % sid, {"using": "css selector", "value": css})
        return v[ELEMENT]
    except RuntimeError:
        return None


def text_of(base, sid, css):
    eid = find(base, sid, css)
    return wd(base, "GET", "/session/%s/element/%s/text" % (sid, eid)) if eid else None


def wait_for(what, fn, seconds):
    end = time.time() + seconds
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    return None


def check_visible(label, text, args):
    for s in args.expect:
        check("%s: a person sees %r" % (label, s), s in text)
    for pattern in args.expect_re:
        check("%s: a person sees /%s/" % (label, pattern), re.search(pattern, text) is not None)
    for s in args.absent:
        check("%s: %r is not shown" % (label, s[:12] + "..."), s not in text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--screenshot", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--chromedriver", default="chromedriver")
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--expect-re", action="append", default=[])
    ap.add_argument("--absent", action="append", default=[])
    ap.add_argument("--log", default=os.devnull)
    args = ap.parse_args()

    port = free_port()
    profile = tempfile.mkdtemp(prefix="pa-chromium-")
    log = open(args.log, "w")
    driver = subprocess.Popen([args.chromedriver, "--port=%d" % port], stdout=log, stderr=subprocess.STDOUT)
    base = "http://127.0.0.1:%d" % port
    sid = None
    try:
        ready = wait_for("chromedriver", lambda: _status(base), 20)
        if not ready:
            print("chromedriver did not start")
            return 2
        chrome_args = ["--headless=new", "--disable-gpu", "--window-size=1400,900", "--no-first-run",
                       "--disable-extensions", "--user-data-dir=" + profile, "--no-proxy-server"]
        # Chromium refuses to run as root with its sandbox; only then is it turned off.
        if os.getuid() == 0:
            chrome_args.append("--no-sandbox")
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": args.chromium, "args": chrome_args}}}}
        session = wd(base, "POST", "/session", caps, timeout=120)
        sid = session["sessionId"]

        wd(base, "POST", "/session/%s/url" % sid, {"url": args.url + "/"})
        form = wait_for("form", lambda: find(base, sid, "#token"), 20)
        check("signed out, the page asks for a token", form is not None)
        if not form:
            return 1
        body = text_of(base, sid, "body") or ""
        check("signed out, no account is shown", "@" not in body, body[:200])

        # a wrong token: the form again, with an error
        wd(base, "POST", "/session/%s/element/%s/value" % (sid, form), {"text": "not-the-token-0123456789"})
        wd(base, "POST", "/session/%s/element/%s/click" % (sid, find(base, sid, "#sign-in")), {})
        err = wait_for("error", lambda: text_of(base, sid, "#pad-error"), 20)
        check("a wrong token gets the form again with an error", bool(err), str(err))

        form = wait_for("form", lambda: find(base, sid, "#token"), 20)
        wd(base, "POST", "/session/%s/element/%s/value" % (sid, form), {"text": args.token})
        wd(base, "POST", "/session/%s/element/%s/click" % (sid, find(base, sid, "#sign-in")), {})
        table = wait_for("table", lambda: find(base, sid, "#pad-table"), 30)
        check("after signing in, the table of accounts", table is not None)
        if not table:
            return 1
        check_visible("as rendered", text_of(base, sid, "body") or "", args)

        # the script's refresh from /v1/accounts, then the same checks on what it wrote
        updated = wait_for("refresh", lambda: (text_of(base, sid, "#pad-updated") or "").startswith("Updated")
                           and True, 15)
        note = text_of(base, sid, "#pad-updated")
        check("the page refreshed itself from /v1/accounts", bool(updated), str(note))
        text = text_of(base, sid, "body") or ""
        check_visible("after the refresh", text, args)

        cookies = wd(base, "POST", "/session/%s/execute/sync" % sid,
                     {"script": "return document.cookie;", "args": []})
        check("the page's scripts cannot read the token cookie (HttpOnly)", args.token not in (cookies or ""))

        png = base64.b64decode(wd(base, "GET", "/session/%s/screenshot" % sid))
        with open(args.screenshot, "wb") as f:
            f.write(png)
        check("the screenshot is a PNG", png[:8] == b"\x89PNG\r\n\x1a\n")
        check("the screenshot is not trivial (%d bytes)" % len(png), len(png) > 20000)
        print("--- what a person sees:\n" + text)
    except (RuntimeError, OSError, KeyError, TypeError, ValueError) as e:
        print("not ok - the browser could not be driven: %s" % e)
        return 2
    finally:
        if sid:
            try:
                wd(base, "DELETE", "/session/%s" % sid, timeout=20)
            except (RuntimeError, OSError):
                pass
        driver.terminate()
        try:
            driver.wait(10)
        except subprocess.TimeoutExpired:
            driver.kill()
        log.close()
        subprocess.call(["rm", "-rf", profile])
    return 1 if failures else 0


def _status(base):
    try:
        v = wd(base, "GET", "/status", timeout=2)
        return v and v.get("ready")
    except (RuntimeError, OSError):
        return None


if __name__ == "__main__":
    sys.exit(main())
