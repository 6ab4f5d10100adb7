# sqlite3 building and querying a database file: checkpoint --kill in the
# middle of its work, restart, same output and the same database.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 > /dev/null || skip "sqlite3 not installed"
cat > work.sql <<'SQL'
CREATE TABLE t(x INTEGER, y TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 200000)
  INSERT INTO t SELECT x, printf('%08x', x * 2654435761 % 4294967296) FROM c;
SELECT count(*), sum(x) FROM t;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 30000000)
  SELECT sum(x * x % 7) FROM c;
CREATE INDEX ti ON t(y);
UPDATE t SET y = upper(y) WHERE x % 3 = 0;
SELECT count(*), min(y), max(y) FROM t WHERE x % 3 = 0;
SQL
mkdir ref run
(cd ref && sqlite3 db.sqlite ".read ../work.sql" > ../sq.ref)
cd run
start_pod sq "$T/sq.1" -- sqlite3 db.sqlite ".read ../work.sql"
# checkpoint while the long query runs (after the first result line)
wait_for "[ \$(lines $T/sq.1) -ge 1 ]" 60 || fail "sqlite3 made no progress"
sleep 0.3
checkpoint_kill sq
restart_bg "$ZAP_HOME/pods/sq/image" "$T/sq.2"
wait $! || fail "restart failed: $(cat "$T/sq.2.err")"
cd "$T"
cat sq.1 sq.2 > sq.joined
same sq.joined sq.ref
sqlite3 ref/db.sqlite .dump > ref.dump
sqlite3 run/db.sqlite .dump > run.dump
same run.dump ref.dump
