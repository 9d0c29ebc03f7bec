# Where the store and the outputs are: places that are not what they seem.
#   - --db naming a device (a null device), a directory: exit 2 saying what it is
#     and what to do (the message once garbled itself), nothing created
#     beside it (the run lock);
#   - --out naming a device (a full device), a directory, a pipe: refused (as
#     root, the report once replaced /dev/full with a file). As root the test
#     makes its own device nodes, so a qloop with the old bugs damages only
#     those;
#   - --out naming the command's own files — the store, a hard link to it, its
#     key file (through a symbolic link), its run lock; a judge's input or its
#     dataset's source: refused, nothing changed (a report once wrote its
#     HTML over the store);
#   - the run lock is the store's, however its path is written: a run
#     through a symbolic link waits for, or is refused by, a run on the
#     store itself;
#   - --memory beyond the machine: refused;
#   - a read-only store and a full disk: exit 2 with what to do (not 3),
#     nothing half-written (a read-only filesystem and a tiny one, mounted
#     when this runs as root; the unit tests cover both without mounting).
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
printf 'id,v\n1,\n2,b\n' > d.csv
printf 'dataset "d" { source = "d.csv", key = "id", owner = "市公安局" }\nrule "d.v" { field = "v", not_null = true }\n' > r.lua
export QLOOP_NOW=2025-03-03T10:00:00+08:00

# Devices of our own where we may make them (as root a qloop with the old
# bugs would replace the device or write beside it: better ours than /dev's).
if [ "$(id -u)" = 0 ] && mknod "$T/null" c 1 3 2>/dev/null && mknod "$T/full" c 1 7 2>/dev/null; then
    NULLDEV=$T/null FULLDEV=$T/full
else
    NULLDEV=/dev/null FULLDEV=/dev/full
fi

# --- --db that is not a file ------------------------------------------------------
for bad in "$NULLDEV" "$T"; do
    run_q 2 tickets list --db "$bad"
    expect_contains "--db $bad: what it is" "$bad: 这不是数据库文件" "$ERR"
    expect_contains "--db $bad: what to do" "请用 --db" "$ERR"
    run_q 2 run --rules r.lua --db "$bad" --quiet
    expect_contains "run --db $bad refused" "这不是数据库文件" "$ERR"
done
[ -e "$NULLDEV.lock" ] && fail "a lock file was made beside $NULLDEV" || ok "no lock file beside $NULLDEV"
[ -c "$NULLDEV" ] && ok "$NULLDEV still a device" || fail "$NULLDEV is no longer a device"

# --- --out that is not a file ----------------------------------------------------
run_q 0 run --rules r.lua --quiet
mkdir outdir && mkfifo pipe
for bad in "$FULLDEV" outdir pipe; do
    run_q 2 report annual --year 2025 --format csv --out "$bad"
    expect_contains "--out $bad refused" "--out 指向的不是普通文件" "$ERR"
done
run_q 2 report annual --year 2025 --format xlsx --out "$FULLDEV"
[ -c "$FULLDEV" ] && ok "$FULLDEV still a device" || fail "$FULLDEV was replaced"
ls "$FULLDEV".tmp* >/dev/null 2>&1 && fail "a temporary file was left beside $FULLDEV" || ok "nothing written beside it"
run_q 0 report annual --year 2025 --format csv --out ok.csv
ln -s ok.csv link.csv
run_q 0 report annual --year 2025 --format csv --out link.csv

# --- --out naming the command's own files (a report once replaced the store) ---------
before=$(sha256sum "$QLOOP_DB" "$QLOOP_DB.key" | sha256sum)
ln "$QLOOP_DB" hard.db
ln -s "$QLOOP_DB.key" key.link
for bad in "$QLOOP_DB" hard.db "$QLOOP_DB.key" key.link "$QLOOP_DB.lock"; do
    run_q 2 report annual --year 2025 --format html --out "$bad"
    expect_contains "--out $bad (the store's own) refused" "--out 指向的是数据库" "$ERR"
done
run_q 2 report scorecard --dept 市公安局 --period 2025-03 --format html --out "$QLOOP_DB"
expect_contains "scorecard --out the store refused" "写入会毁掉数据库" "$ERR"
[ "$(sha256sum "$QLOOP_DB" "$QLOOP_DB.key" | sha256sum)" = "$before" ] && ok "the store and its key untouched" \
    || fail "the store or its key was changed by a report"
run_q 0 audit verify
rm hard.db key.link
cp d.csv part.csv
for bad in part.csv d.csv; do
    run_q 2 judge --rules r.lua --dataset d --part 1/1 --input part.csv --out "$bad" --quiet
    expect_contains "judge --out $bad (its input) refused" "本命令要读取的输入" "$ERR"
done
cmp -s d.csv part.csv && ok "the judge's input untouched" || fail "the judge overwrote its input"

# --- the run lock, however the store is named -----------------------------------------
mkdir sub
ln -s "$QLOOP_DB" sub/link.db
flock "$QLOOP_DB.lock" sleep 3 &
holder=$!
sleep 0.5
run_q 2 run --rules r.lua --db sub/link.db --quiet
expect_contains "through a symbolic link: refused" "另一次运行" "$ERR"
run_q 2 run --rules r.lua --db "sub/../$(basename "$QLOOP_DB")" --quiet
expect_contains "through sub/..: refused" "另一次运行" "$ERR"
wait "$holder"
[ -e sub/link.db.lock ] && fail "a second lock beside the link" || ok "one lock, beside the store"

# --- --memory beyond the machine ---------------------------------------------------------
run_q 2 run --rules r.lua --memory 99999999999G --quiet
expect_contains "--memory refused" "超过本机内存" "$ERR"
run_q 2 run --rules r.lua --memory 1e400G --quiet

# --- a read-only store, a full disk ------------------------------------------------
if [ "$(id -u)" = 0 ] && mkdir -p mnt && mount -t tmpfs -o size=2m tmpfs mnt 2>/dev/null; then
    trap 'umount "$T/mnt" 2>/dev/null || true; rm -rf "$T"' EXIT
    cp "$QLOOP_DB" "$QLOOP_DB.key" mnt/
    sqlite3 "$QLOOP_DB" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
    cp "$QLOOP_DB" mnt/q.db
    cp "$QLOOP_DB.key" mnt/q.db.key
    mount -o remount,ro mnt
    tid=$(sql "SELECT min(id) FROM tickets")
    run_q 2 tickets resolve "$tid" --as rectified --actor 市公安局 --db mnt/q.db
    expect_contains "read-only store: what to do" "请检查路径和权限" "$ERR"
    run_q 2 run --rules r.lua --db mnt/q.db --quiet
    mount -o remount,rw mnt
    run_q 0 audit verify --db mnt/q.db
    expect_contains "read-only store: nothing written" "ok " "$OUT"
    umount mnt
    # A tiny disk: the run's one write transaction does not fit.
    mount -t tmpfs -o size=160k tmpfs mnt
    python3 -c 'import sys
print("id,v")
for i in range(20000): print("%d," % i)' > big.csv
    run_q 2 run --rules r.lua --data d=big.csv --db mnt/full.db --quiet
    expect_contains "full disk: exit 2, what to do" "磁盘已满" "$ERR"
    expect_contains "full disk: nothing half-written" "0" \
        "$(sqlite3 mnt/full.db 'SELECT count(*) FROM runs' 2>/dev/null || echo 0)"
    umount mnt
else
    echo "skip: not root or no tmpfs here: the read-only and full-disk cases are covered by test_ticket_store"
fi
finish
