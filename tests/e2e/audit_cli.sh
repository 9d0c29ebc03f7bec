#!/usr/bin/env bash
# audit_cli.sh — `qloop audit verify` and `qloop audit list` end to end.
#
# A missing store is refused (exit 2) and not created. A fresh store holds
# a run's two entries; the script writes one more entry with the sqlite3 CLI,
# its MAC computed here (python3's hashlib) from the documented canonical
# encoding (seq as 8 bytes big-endian, then each text field as 8-byte
# big-endian length + bytes) with the audit subkey derived from the store's
# key file as libsodium's crypto_kdf does (keyed BLAKE2b; see audit.h and
# key.h) — which also pins the encoding and the key derivation from outside
# the C code. Then it tampers with the store as an attacker with the file
# would (dropping the append-only triggers) and expects exit 1 naming the
# entry, and without the key file exit 2. The attacks of someone without the
# key (rewrite and rehash, tail cut) are tests/e2e/audit_attacks.sh.
set -euo pipefail

: "${QLOOP_BIN:?QLOOP_BIN must name the qloop binary}"
command -v sqlite3 >/dev/null || { echo "audit_cli.sh needs the sqlite3 CLI (apt-get install sqlite3)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export QLOOP_NOW=2024-09-27T10:00:00+08:00
unset QLOOP_DB
db=$tmp/q.db
zero=0000000000000000000000000000000000000000000000000000000000000000

fail() { echo "FAIL: $*" >&2; exit 1; }

# run CMD...: sets $out, $err and $rc.
run() {
    set +e
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    set -e
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}

# mac KIND ...: python3 over the store's key file (see the file comment).
#   mac entry SEQ AT KIND SUBJECT ACTOR DETAIL PREV   the MAC of an entry
#   mac head SEQ HASH                                 the MAC of audit_head
mac() {
    python3 - "$db.key" "$@" <<'PY'
import hashlib, struct, sys
lines = [l for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
master = bytes.fromhex(lines[0].strip())
sub = hashlib.blake2b(b"", digest_size=32, key=master, salt=struct.pack("<Q", 1) + bytes(8),
                      person=b"qloopkey" + bytes(8)).digest()
what, args = sys.argv[2], sys.argv[3:]
if what == "entry":
    enc = struct.pack(">Q", int(args[0]))
    for f in args[1:]:
        b = f.encode()
        enc += struct.pack(">Q", len(b)) + b
    print(hashlib.blake2b(enc, digest_size=32, key=sub).hexdigest())
else:
    hk = hashlib.blake2b(b"qloop audit head", digest_size=32, key=sub).digest()
    print(hashlib.blake2b(struct.pack(">Q", int(args[0])) + args[1].encode(), digest_size=32,
                          key=hk).hexdigest())
PY
}

# --- no store yet: refused, nothing created (CONTRACT.md: only run, catalog
# import, depts add and users add create a store) ------------------------------
run "$QLOOP_BIN" audit verify --db "$db"
[ "$rc" -eq 2 ] || fail "missing store: expected exit 2, got $rc (out: $out)"
case "$err" in *"$db"*"不存在"*) ;; *) fail "missing store: stderr does not name the path: $err" ;; esac
[ ! -e "$db" ] && [ ! -e "$db.key" ] || fail "audit verify created a store at $db"

# --- a fresh store: a run with nothing to report writes run.start, run.end
# (and registers its owner) ---
printf 'dataset "d" { key = "id", owner = "甲局" }\nrule "d.v" { field = "v", not_null = true }\n' \
    >"$tmp/r.lua"
printf 'id,v\n1,a\n' >"$tmp/d.csv"
run "$QLOOP_BIN" run --rules "$tmp/r.lua" --data "d=$tmp/d.csv" --db "$db" --quiet
[ "$rc" -eq 0 ] || fail "run on a new store: exit $rc, stderr: $err"
run "$QLOOP_BIN" audit verify --db "$db"
[ "$rc" -eq 0 ] || fail "fresh store: exit $rc, stderr: $err"
n=$(sqlite3 "$db" "SELECT count(*) FROM audit")
[ "$n" -ge 2 ] || fail "fresh store: the run wrote $n entries"
[ "$out" = "ok $n" ] || fail "fresh store: expected 'ok $n', got '$out'"
m=$((n + 1))

run "$QLOOP_BIN" audit list --db "$db" --json --kind ticket.transition
[ "$rc" -eq 0 ] || fail "list on fresh store: exit $rc"
[ "$out" = "[]" ] || fail "list --json --kind ticket.transition on fresh store: expected [], got '$out'"

# --- help and usage ----------------------------------------------------------
for args in "audit --help" "audit verify --help" "audit anchor --help" "audit list --help"; do
    # shellcheck disable=SC2086
    run "$QLOOP_BIN" $args
    [ "$rc" -eq 0 ] || fail "qloop $args: exit $rc"
    case "$out" in *"用法"*) ;; *) fail "qloop $args: no usage text: $out" ;; esac
done
for args in "audit" "audit frobnicate" "audit verify --no-such-option" "audit verify --db" \
            "audit verify extra" "audit list --since not-a-date --db $db"; do
    # shellcheck disable=SC2086
    run "$QLOOP_BIN" $args
    [ "$rc" -eq 2 ] || fail "qloop $args: expected exit 2, got $rc"
    [ -n "$err" ] || fail "qloop $args: no message on stderr"
done

# --- one well-formed entry, written from outside ------------------------------
at=2024-09-27T10:00:00+08:00
detail='{"from":"discovered","to":"feedback","note":"市公安局"}'
prev=$(sqlite3 "$db" "SELECT hash FROM audit WHERE seq = $n")
h3=$(mac entry "$m" "$at" ticket.transition ticket:1 张三 "$detail" "$prev")
[ "$h3" != "$(mac entry "$m" "$at" ticket.transition ticket:1 张三x "$detail" "$prev")" ] \
    || fail "mac helper ignores its input"
m3=$(mac head "$m" "$h3")
sqlite3 "$db" "INSERT INTO audit VALUES($m, '$at', 'ticket.transition', 'ticket:1', '张三',
               '$detail', '$prev', '$h3');
               UPDATE audit_head SET seq = $m, hash = '$h3', mac = '$m3' WHERE id = 1;"

run "$QLOOP_BIN" audit verify --db "$db"
[ "$rc" -eq 0 ] || fail "one valid entry: exit $rc, out: $out, stderr: $err"
[ "$out" = "ok $m" ] || fail "one valid entry: expected 'ok $m', got '$out'"

run "$QLOOP_BIN" audit list --db "$db" --json --kind ticket.transition
[ "$rc" -eq 0 ] || fail "list --json: exit $rc"
case "$out" in *"\"seq\":$m"*'"detail":{"from":"discovered"'*"\"hash\":\"$h3\""*) ;;
    *) fail "list --json lacks the entry: $out" ;; esac
run "$QLOOP_BIN" audit list --db "$db" --kind catalog.add
if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
    fail "list --kind catalog.add should print nothing (exit $rc): $out"
fi
run "$QLOOP_BIN" audit list --db "$db" --kind ticket.transition
[ "$(printf '%s\n' "$out" | cut -f1,3,5)" = "$(printf '%s\tticket.transition\t张三' "$m")" ] \
    || fail "list text: $out"

# --- the triggers refuse changes ---------------------------------------------
if sqlite3 "$db" "UPDATE audit SET actor = '李四' WHERE seq = $m" 2>"$tmp/sqlerr"; then
    fail "UPDATE on audit was not refused"
fi
grep -q 'append-only' "$tmp/sqlerr" || fail "UPDATE refused without the append-only message"

# --- tampered ----------------------------------------------------------------
sqlite3 "$db" "DROP TRIGGER audit_no_update;
               UPDATE audit SET detail = '{\"from\":\"discovered\",\"to\":\"shared\"}' WHERE seq = $m;"
run "$QLOOP_BIN" audit verify --db "$db"
[ "$rc" -eq 1 ] || fail "tampered entry: expected exit 1, got $rc (out: $out)"
case "$out" in "broken at $m: "*"第 $m 条"*) ;; *) fail "tampered entry: got '$out'" ;; esac

# Entries removed: the chain is empty but the head says $m.
sqlite3 "$db" "DROP TRIGGER audit_no_delete; DELETE FROM audit;"
run "$QLOOP_BIN" audit verify --db "$db"
[ "$rc" -eq 1 ] || fail "removed entry: expected exit 1, got $rc (out: $out)"
case "$out" in "broken at 1: "*) ;; *) fail "removed entry: got '$out'" ;; esac

# Without the key file: exit 2, saying so.
mv "$db.key" "$tmp/saved.key"
run "$QLOOP_BIN" audit verify --db "$db"
[ "$rc" -eq 2 ] || fail "no key file: expected exit 2, got $rc (out: $out)"
case "$err" in *"密钥文件"*) ;; *) fail "no key file: stderr does not say so: $err" ;; esac
mv "$tmp/saved.key" "$db.key"

echo "audit_cli: ok"
