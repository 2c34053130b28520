#!/usr/bin/env python3
"""
The house rules of docs/STYLE.md that a machine can check, in the spirit of
curl's checksrc: run by `./dev lint` and by CI before the long stages, so a
review never has to spend its time on them.

    tools/lint.py [--json] [--list-rules] [PATH...]

Without PATHs it checks every C file (.c, .h) under core/, plugins/ and
tools/ of the source tree it lives in. Each finding is printed as
"file:line: rule: message"; the exit status is 1 when there is any, 0
otherwise (2 for a usage error). --json prints one JSON document instead:
{"findings": [{"file", "line", "rule", "message"}...], "files": N}.

A reviewed exception is written on the line itself (for file-length
anywhere in the file) as a comment naming the rule and saying why:

    strcpy(dst, src); /* lint: allow banned-function dst is sized from src above */

An allow comment without a reason, or naming no known rule, is itself a
finding: exceptions are meant to be read.

Python's standard library only: the checker must run wherever ./dev does.
"""
import json
import os
import re
import sys

# Measured on the tree when the rule was written: counting a tab as 4
# columns (the width the code was written at) every line but eleven, all in
# files being split, fits in 120 columns; at 8 columns a hundred would not.
LINE_MAX = 120
TAB_WIDTH = 4

# A core .c file longer than this says why in an allow comment (issue 14:
# "no core file exceeds about 600 lines without a comment saying why").
FILE_LINES_MAX = 600

SOURCE_DIRS = ("core", "plugins", "tools", "daemon")

# Banned functions and what to use instead. Most write without a bound or
# keep hidden state; atoi and friends cannot report a malformed number.
BANNED = {
    "sprintf": "unbounded; use snprintf or pa_sprintf",
    "vsprintf": "unbounded; use vsnprintf or vasprintf",
    "strcpy": "unbounded; use snprintf(dst, size, \"%s\", src) or pa_strdup",
    "strcat": "unbounded; use snprintf into the remaining space",
    "strncpy": "may leave the result without a NUL; use snprintf",
    "strncat": "easy to get the bound wrong; use snprintf",
    "gets": "unbounded; use fgets",
    "strtok": "keeps hidden state (not thread-safe); use strtok_r or strcspn",
    "atoi": "cannot report a parse error; use strtol with an end pointer and errno",
    "atol": "cannot report a parse error; use strtol with an end pointer and errno",
    "atoll": "cannot report a parse error; use strtoll with an end pointer and errno",
    "atof": "cannot report a parse error; use strtod with an end pointer and errno",
    "tmpnam": "racy temporary name; use mkstemp or mkdtemp",
    "tempnam": "racy temporary name; use mkstemp or mkdtemp",
    "mktemp": "racy temporary name; use mkstemp or mkdtemp",
    "gmtime": "not thread-safe; use gmtime_r",
    "localtime": "not thread-safe; use localtime_r",
    "ctime": "not thread-safe; use strftime on gmtime_r",
    "asctime": "not thread-safe; use strftime on gmtime_r",
    "rand": "not a CSPRNG; use pa_random_bytes (host->random_bytes in a plugin)",
    "srand": "not a CSPRNG; use pa_random_bytes (host->random_bytes in a plugin)",
    "alloca": "unbounded stack use; use malloc or a fixed-size array",
}

# The library and plugins talk through return codes, the last error and the
# log callback; a host program owns its stdout.
STDOUT_FUNCS = ("printf", "vprintf", "puts", "putchar")

# Non-static names per place: the core's internals are pa_, its API
# provauth_; a plugin's own names carry its prefix, so that its objects
# linked next to the core (unit tests, fuzz targets) collide with nothing.
# plugins/support is the helper library plugin writers link
# (<provauth/plugin_util.h>): its names are installed API.
PLUGIN_PREFIXES = {"pixverse": ("pv_", "pixverse_"), "pixiv": ("pixiv_",), "support": ("provauth_plugin_",)}
PLUGIN_ENTRY = "provauth_plugin_init"

RULES = {
    "line-length": "a line longer than %d columns (a tab counts %d)" % (LINE_MAX, TAB_WIDTH),
    "trailing-space": "whitespace at the end of a line",
    "indent": "tabs indent, spaces align: no tab after a space or after text, no CR",
    "opening-comment": "a C file opens with a comment that says what it is for",
    "banned-function": "a function with a safer replacement (see BANNED)",
    "stdout": "the library and plugins never write to stdout",
    "public-name": "names in core/include/provauth/ start with provauth_ / PROVAUTH_",
    "internal-name": "non-static names: pa_ or provauth_ in core/, the plugin's prefix in plugins/, cli_ in tools/",
    "file-length": "a core .c file over %d lines says why (lint: allow file-length ...)" % FILE_LINES_MAX,
    "allow-comment": "a lint: allow comment names a known rule and gives a reason",
    "final-newline": "a file ends with a newline",
}

ALLOW_RE = re.compile(r"lint:\s*allow\s+([a-z-]+)\s*(.*?)\s*(\*/|$)")
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


class Finding:
    def __init__(self, path, line, rule, message):
        self.path, self.line, self.rule, self.message = path, line, rule, message

    def text(self):
        return "%s:%d: %s: %s" % (self.path, self.line, self.rule, self.message)

    def obj(self):
        return {"file": self.path, "line": self.line, "rule": self.rule, "message": self.message}


def strip_c(text):
    """Returns (code, comments): code with every comment, string and
    character literal blanked (newlines kept, so offsets and line numbers
    match), and the text of the comments that touch each line."""
    out = []
    comments = {}
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "/" and i + 1 < n and text[i + 1] in "*/":
            block = text[i + 1] == "*"
            end = text.find("*/", i + 2) if block else text.find("\n", i + 2)
            if end < 0:
                end = n
            elif block:
                end += 2
            body = text[i:end]
            for k, part in enumerate(body.split("\n")):
                comments.setdefault(line + k, []).append(part)
            out.append("".join(ch if ch == "\n" else " " for ch in body))
            line += body.count("\n")
            i = end
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * max(0, j - i - 2) + (c if j - i >= 2 else ""))
            i = j
        else:
            if c == "\n":
                line += 1
            out.append(c)
            i += 1
    return "".join(out), comments


def display_width(s):
    col = 0
    for ch in s:
        col = (col // TAB_WIDTH + 1) * TAB_WIDTH if ch == "\t" else col + 1
    return col


class FileCheck:
    def __init__(self, path, shown, text, place):
        # shown: the name findings use; place: the path in the tree, which
        # decides the rules that depend on where a file lives.
        self.path, self.shown, self.text, self.place = path, shown, text, place
        self.lines = text.split("\n")
        self.code, self.comments = strip_c(text)
        self.code_lines = self.code.split("\n")
        self.findings = []
        self.allowed = {}      # line -> set of rules
        self.allowed_file = set()
        for ln, parts in self.comments.items():
            for part in parts:
                for m in ALLOW_RE.finditer(part):
                    rule, why = m.group(1), m.group(2)
                    if rule not in RULES or rule == "allow-comment":
                        self.add(ln, "allow-comment", "unknown rule '%s' (tools/lint.py --list-rules)" % rule,
                                 force=True)
                    elif not why:
                        self.add(ln, "allow-comment", "an exception to %s says why" % rule, force=True)
                    else:
                        self.allowed.setdefault(ln, set()).add(rule)
                        if rule == "file-length":
                            self.allowed_file.add(rule)

    def add(self, line, rule, message, force=False):
        if not force and (rule in self.allowed.get(line, ()) or rule in self.allowed_file):
            return
        self.findings.append(Finding(self.shown, line, rule, message))

    def rel(self):
        return self.place.replace(os.sep, "/")

    # ---- text rules ---------------------------------------------------------

    def check_text(self):
        if self.text and not self.text.endswith("\n"):
            self.add(len(self.lines), "final-newline", "no newline at the end of the file")
        for i, raw in enumerate(self.lines, 1):
            if "\r" in raw:
                self.add(i, "indent", "carriage return (CRLF line end)")
                raw = raw.replace("\r", "")
            if raw.rstrip(" \t") != raw:
                self.add(i, "trailing-space", "whitespace at the end of the line")
            lead = raw[:len(raw) - len(raw.lstrip(" \t"))]
            if re.search(r" \t", lead):
                self.add(i, "indent", "a tab after a space in the indentation (tabs indent, spaces align)")
            elif "\t" in raw[len(lead):]:
                self.add(i, "indent", "a tab after text (only indentation is tabs; align with spaces)")
            width = display_width(raw)
            if width > LINE_MAX:
                self.add(i, "line-length", "%d columns (limit %d, a tab counts %d)" % (width, LINE_MAX, TAB_WIDTH))
        first = next((l for l in self.lines if l.strip()), "")
        if not first.lstrip().startswith(("/*", "//")):
            self.add(1, "opening-comment", "the file does not open with a comment saying what it is for")
        rel = self.rel()
        parts = rel.split("/")
        if "core" in parts and rel.endswith(".c") and len(self.lines) - 1 > FILE_LINES_MAX:
            self.add(1, "file-length", "%d lines (over %d: split it, or say why in a "
                     "'lint: allow file-length' comment)" % (len(self.lines) - 1, FILE_LINES_MAX))

    # ---- call rules ---------------------------------------------------------

    def check_calls(self, library):
        for i, code in enumerate(self.code_lines, 1):
            if code.lstrip().startswith("#"):
                continue
            for m in re.finditer(r"(?<![\w.>])(%s)\s*\(" % IDENT, code):
                name = m.group(1)
                if name in BANNED:
                    self.add(i, "banned-function", "%s(): %s" % (name, BANNED[name]))
                elif library and name in STDOUT_FUNCS:
                    self.add(i, "stdout", "%s() writes to stdout; report through the last error or the log" % name)
            if library and re.search(r"\bstdout\b", code):
                self.add(i, "stdout", "stdout used; report through the last error or the log")

    # ---- names --------------------------------------------------------------

    def toplevel(self):
        """Yields (line, text, ends_with) for each top-level declaration
        or definition head: text since the last ';' or '}' at depth 0,
        ending at ';' or '{' (preprocessor lines left out)."""
        depth, buf, start = 0, [], None
        # After a type or an initialiser closes, what precedes ';' belongs
        # to it ("} name;", "};"); after a function body nothing does.
        skip_to_semi = False
        opened_function = False
        extern_c = 0
        code_lines = self.code_lines
        for ln, raw in enumerate(code_lines, 1):
            if raw.lstrip().startswith("#") or (ln > 1 and code_lines[ln - 2].rstrip().endswith("\\")
                                                 and self._in_directive(ln - 1)):
                continue
            for ch in raw + "\n":
                if ch == "{":
                    if depth == 0 and re.match(r'\s*extern\s*"\s*"\s*$', "".join(buf)):
                        # extern "C" { ... } wraps declarations without nesting them.
                        extern_c += 1
                        buf, start = [], None
                        continue
                    if depth == 0:
                        text = "".join(buf)
                        t = " ".join(text.split())
                        opened_function = ("(" in t and "=" not in t and
                                           not re.match(r"(typedef|struct|union|enum)\b", t))
                        if t and not skip_to_semi:
                            yield start, text, "{"
                        buf, start = [], None
                    depth += 1
                elif ch == "}":
                    if depth == 0 and extern_c:
                        extern_c -= 1
                        buf, start = [], None
                        continue
                    depth -= 1
                    if depth == 0:
                        buf, start = [], None
                        skip_to_semi = not opened_function
                elif depth == 0:
                    if ch == ";":
                        text = "".join(buf)
                        if text.strip() and not skip_to_semi:
                            yield start, text, ";"
                        buf, start, skip_to_semi = [], None, False
                    else:
                        if start is None and not ch.isspace():
                            start = ln
                        buf.append(ch)

    def _in_directive(self, idx):
        # idx: 1-based line that ends with a backslash; true when the
        # logical line it belongs to is a preprocessor directive.
        j = idx
        while j > 1 and self.code_lines[j - 2].rstrip().endswith("\\"):
            j -= 1
        return self.code_lines[j - 1].lstrip().startswith("#")

    @staticmethod
    def declared_name(text, end):
        """The name a top-level head declares, and whether it is a
        function; None for type definitions and what is not a name."""
        t = " ".join(text.split())
        t = re.sub(r"\b(PROVAUTH_EXTERN|PROVAUTH_PRINTF|__attribute__)\s*\((?:[^()]|\([^()]*\))*\)", " ", t)
        t = re.sub(r"\bPROVAUTH_EXTERN\b", " ", t)
        if re.match(r"\s*(typedef|_Static_assert|static_assert)\b", t):
            return None, False
        if re.match(r"\s*(struct|union|enum)\s+%s\s*$" % IDENT, t) or re.match(r"\s*(struct|union|enum)\s*$", t):
            return None, False
        eq = t.find("=")
        head = t if eq < 0 else t[:eq]
        paren = head.find("(")
        if paren >= 0:
            m = re.search(r"(%s)\s*$" % IDENT, head[:paren])
            if not m:
                return None, False
            return m.group(1), True
        m = re.search(r"(%s)\s*(\[[^\]]*\]\s*)*$" % IDENT, head.strip())
        return (m.group(1), False) if m else (None, False)

    def check_names(self):
        rel = self.rel()
        parts = rel.split("/")
        if "include" in parts and "provauth" in parts and rel.endswith(".h"):
            self.check_public_header()
            return
        if not rel.endswith(".c"):
            return
        if "core" in parts:
            prefixes, where = ("pa_", "provauth_"), "core/"
        elif "plugins" in parts and parts.index("plugins") + 1 < len(parts) - 1:
            plugin = parts[parts.index("plugins") + 1]
            prefixes = PLUGIN_PREFIXES.get(plugin, (plugin + "_",)) + (PLUGIN_ENTRY,)
            where = "plugins/%s/" % plugin
        elif "tools" in parts:
            prefixes, where = ("cli_", "main"), "tools/"
        elif parts[0] == "daemon":
            prefixes, where = ("pad_", "main"), "daemon/"
        else:
            return
        for line, text, end in self.toplevel():
            words = text.split()
            if "static" in words or "extern" in words:
                continue
            if end == ";" and "(" in text and "=" not in text:
                continue  # a prototype: the definition is what is checked
            name, is_func = self.declared_name(text, end)
            if not name:
                continue
            if name == "main" and "main" in prefixes:
                continue
            if not name.startswith(tuple(p for p in prefixes if p != "main")):
                kind = "function" if is_func else "object"
                self.add(line, "internal-name", "non-static %s '%s' in %s: make it static or name it %s..."
                         % (kind, name, where, " or ".join(p for p in prefixes if p not in ("main", PLUGIN_ENTRY))))

    def check_public_header(self):
        for i, code in enumerate(self.code_lines, 1):
            m = re.match(r"\s*#\s*define\s+(%s)" % IDENT, code)
            if m and not m.group(1).startswith("PROVAUTH_"):
                self.add(i, "public-name", "macro '%s' in a public header: name it PROVAUTH_..." % m.group(1))
            for m in re.finditer(r"\b(?:(struct|union|enum)\s+(%s)\s*\{|typedef\s+(struct|union|enum)\s+(%s)\b)"
                                 % (IDENT, IDENT), code):
                kind, tag = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
                if not tag.startswith("provauth_"):
                    self.add(i, "public-name", "%s tag '%s' in a public header: name it provauth_..." % (kind, tag))
        # Enum constants: the first identifier of every item of an enum body.
        for m in re.finditer(r"\benum\b[^{;]*\{([^}]*)\}", self.code):
            body_start = m.start(1)
            for item in re.finditer(r"(?:^|,)\s*(%s)" % IDENT, m.group(1)):
                name = item.group(1)
                if not name.startswith("PROVAUTH_"):
                    ln = self.code.count("\n", 0, body_start + item.start(1)) + 1
                    self.add(ln, "public-name", "enum constant '%s' in a public header: name it PROVAUTH_..." % name)
        for line, text, end in self.toplevel():
            t = " ".join(text.split())
            if t.startswith("typedef"):
                fp = re.search(r"\(\s*\*\s*(%s)\s*\)" % IDENT, t)
                m = fp or re.search(r"(%s)\s*(\[[^\]]*\]\s*)*$" % IDENT, t)
                name = m.group(1) if m else None
                if end == "{" or not name:
                    continue
                if not name.startswith("provauth_"):
                    self.add(line, "public-name", "type '%s' in a public header: name it provauth_..." % name)
                continue
            if t.startswith('extern "C"'):
                continue
            name, is_func = self.declared_name(text, end)
            if name and end == ";" and not name.startswith("provauth_"):
                self.add(line, "public-name", "%s '%s' in a public header: name it provauth_..."
                         % ("function" if is_func else "object", name))
        # "} name;" after a typedef'd struct: the typedef name.
        for m in re.finditer(r"\}\s*(%s)\s*;" % IDENT, self.code):
            name = m.group(1)
            before = self.code[:m.start()]
            if before.count("{") - before.count("}") - len(re.findall(r'extern\s*"\s*"\s*\{', before)) != 1:
                continue  # a member of an anonymous struct, not a type
            if not name.startswith("provauth_"):
                ln = self.code.count("\n", 0, m.start(1)) + 1
                self.add(ln, "public-name", "type '%s' in a public header: name it provauth_..." % name)


def is_library(rel):
    parts = rel.replace(os.sep, "/").split("/")
    return "core" in parts or "plugins" in parts


def collect(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_build")))
                files += [os.path.join(root, f) for f in sorted(names) if f.endswith((".c", ".h"))]
        elif os.path.exists(p):
            files.append(p)
        else:
            raise FileNotFoundError(p)
    return files


def main(argv):
    as_json = False
    paths = []
    for a in argv:
        if a == "--json":
            as_json = True
        elif a == "--list-rules":
            for r in sorted(RULES):
                print("%-16s %s" % (r, RULES[r]))
            return 0
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        elif a.startswith("-"):
            print("lint: unknown option %s (try --help)" % a, file=sys.stderr)
            return 2
        else:
            paths.append(a)
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not paths:
        paths = [os.path.join(top, d) for d in SOURCE_DIRS]
        base = top
    else:
        base = os.getcwd()
    try:
        files = collect(paths)
    except FileNotFoundError as e:
        print("lint: no such file or directory: %s" % e, file=sys.stderr)
        return 2
    findings = []
    for path in files:
        shown = os.path.relpath(path, base)
        if shown.startswith(".."):
            shown = path
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            text = f.read()
        in_tree = os.path.relpath(os.path.abspath(path), top)
        place = shown if in_tree.startswith("..") else in_tree
        fc = FileCheck(path, shown, text, place)
        fc.check_text()
        fc.check_calls(is_library(place))
        fc.check_names()
        findings += fc.findings
    findings.sort(key=lambda f: (f.path, f.line, f.rule))
    if as_json:
        json.dump({"findings": [f.obj() for f in findings], "files": len(files)}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for f in findings:
            print(f.text())
        print("lint: %d file(s), %d finding(s)" % (len(files), len(findings)), file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
