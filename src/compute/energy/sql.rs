//! The integration rules as SQL for an outside engine (Spark, DuckDB): the same segments,
//! clips, gaps, limits and hourly profile as [`super::device`], generated from the same
//! parameters so that the two cannot drift (`greenledger report --pushdown` regenerates the
//! text and refuses results made by another).
//!
//! Every float expression is written in the order the in-process code evaluates it, so each
//! piece of energy is the same double; only the order of the sums differs (1e-15 relative).

use super::device::HOUR_MS;
pub(crate) use crate::ingest::pushdown::Engine;

/// Each engine's SQL dialect.
impl Engine {
    fn int_div(self) -> &'static str {
        match self {
            Engine::Spark => "div",
            Engine::DuckDb => "//",
        }
    }

    /// `timestamp` as a quoted identifier.
    fn ts_column(self) -> &'static str {
        match self {
            Engine::Spark => "`timestamp`",
            Engine::DuckDb => "\"timestamp\"",
        }
    }

    /// Epoch milliseconds of the samples' `timestamp` (text or a timestamp type; naive
    /// ones in the session's time zone), NULL when it cannot be read.
    fn epoch_ms(self) -> String {
        match self {
            Engine::Spark => format!("unix_millis(TRY_CAST({} AS TIMESTAMP))", self.ts_column()),
            Engine::DuckDb => format!("epoch_ms(TRY_CAST({} AS TIMESTAMPTZ))", self.ts_column()),
        }
    }

    /// One row per integer from `a` to `b` (inclusive), as a select-list expression.
    fn explode(self, a: &str, b: &str) -> String {
        match self {
            Engine::Spark => format!("explode(sequence({a}, {b}))"),
            Engine::DuckDb => format!("unnest(generate_series({a}, {b}))"),
        }
    }

    /// `x` is a finite number (not NaN nor infinite). DuckDB folds `x <= 1.79E308` to true from
    /// a Parquet column's statistics, which leave NaN out: a NaN would pass; `isfinite` is read
    /// row by row. Spark orders NaN above every number, so the bound excludes it.
    fn finite(self, x: &str) -> String {
        match self {
            Engine::Spark => format!("{x} <= 1.7976931348623157E308"),
            Engine::DuckDb => format!("isfinite({x})"),
        }
    }

    fn set_time_zone(self, tz: &str) -> String {
        match self {
            Engine::Spark => format!("SET spark.sql.session.timeZone = {tz}"),
            Engine::DuckDb => format!("SET TimeZone = '{tz}'"),
        }
    }

    /// A table computed once and read by several results.
    fn materialise(self) -> &'static str {
        match self {
            Engine::Spark => "CACHE TABLE",
            Engine::DuckDb => "CREATE OR REPLACE TEMP TABLE",
        }
    }

    fn string_type(self) -> &'static str {
        match self {
            Engine::Spark => "STRING",
            Engine::DuckDb => "VARCHAR",
        }
    }
}

/// What the SQL is generated from: the rule parameters and a digest of the claims.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    /// The period, `[p0, p1)` in epoch milliseconds, and its label.
    pub p0: i64,
    pub p1: i64,
    pub period: String,
    pub max_gap_s: f64,
    pub max_gap_ms: i64,
    /// Power above this many times the largest TDP of a node's jobs is dropped.
    pub limit_factor: f64,
    /// The zone naive timestamps are read in (an IANA name, an offset or UTC).
    pub time_zone: String,
    /// Rows and sha256 of the claims ([`super::pushdown::claims_digest`]).
    pub claims_rows: usize,
    pub claims_sha256: String,
}

/// The energy of the straight line from (t0, p0) to (t1, p1) of table alias `g`, between the
/// millisecond expressions `a` and `b`: [`super::device::trapezoid`], operation for operation.
fn trapezoid(a: &str, b: &str) -> String {
    let span = "CAST(g.t1 - g.t0 AS DOUBLE)";
    let pa = format!("(g.p0 + (g.p1 - g.p0) * (CAST(({a}) - g.t0 AS DOUBLE) / {span}))");
    let pb = format!("(g.p0 + (g.p1 - g.p0) * (CAST(({b}) - g.t0 AS DOUBLE) / {span}))");
    format!("({pa} + {pb}) / 2E0 * (CAST(({b}) - ({a}) AS DOUBLE) / 1000E0)")
}

/// The Spark driver: it integrates each device's samples itself (the SQL only reads the rows
/// and sums its per-device results), so its digest is part of the rules.
pub(crate) const SPARK_DRIVER: &str = include_str!("../../pushdown/run_spark.py");

/// The whole SQL file: header, the time zone, the shared tables, then one statement per
/// result, each preceded by `-- result: NAME`. Statements end with `;` at the end of a line.
///
/// DuckDB runs it all: the integration is SQL. Spark runs the first statement (the rows), then
/// its driver integrates each device in one vectorised pass after a single shuffle by (node,
/// device) into the view `gl_out`, which the result statements sum: Spark's SQL path needed
/// five materialisations of every sample, each a shuffle, and was ~30x slower than DuckDB.
pub(crate) fn generate(engine: Engine, r: &Rules) -> String {
    let mut out = header(engine, r);
    out.push_str(&format!("{};\n\n", engine.set_time_zone(&r.time_zone)));
    match engine {
        Engine::DuckDb => {
            out.push_str(&shared_tables(engine, r));
            out.push_str(&results(engine));
        }
        Engine::Spark => {
            out.push_str(&format!(
                "-- every row, the node by its hash (the driver names it once per node); a row whose node, device or\n\
                 -- time cannot be read is counted and not used (null k, device or t)\n\
                 CREATE OR REPLACE TEMP VIEW gl_raw AS\n\
                 SELECT CASE WHEN node IS NOT NULL THEN xxhash64(node) END AS k, TRY_CAST(device AS BIGINT) AS device, {epoch} AS t, TRY_CAST(power_w AS DOUBLE) AS p\n\
                 FROM samples;\n\n",
                epoch = engine.epoch_ms()
            ));
            out.push_str(&rows_view(engine));
            out.push_str(&spark_results());
        }
    }
    out
}

fn header(engine: Engine, r: &Rules) -> String {
    format!(
        "-- greenledger {version} pushdown: {label} SQL over the views `samples` (timestamp, node, device,\n\
         -- power_w), `node_power` (timestamp, node, power_w), `counters` (timestamp, node, device, energy_mj)\n\
         -- and `claims` (claims.parquet). Generated from the rules greenledger applies in-process\n\
         -- (user guide: Methodology, \"Power samples to job energy\"); do not edit: `greenledger report --pushdown`\n\
         -- regenerates this file and refuses results made by another.\n\
         -- engine: {name}\n\
         -- period: {period} = [{p0}, {p1}) ms\n\
         -- max_gap_s: {gap} ({gap_ms} ms): a longer segment is a gap and carries no energy\n\
         -- power limit: {factor} x the largest TDP of a node's jobs (claims.limit_w); negative or NaN power is dropped\n\
         -- naive timestamps: {tz}\n\
         -- claims: {rows} rows, sha256 {sha}\n\
         -- Statements end with ';' at the end of a line; `-- result: NAME` marks each result.\n{driver}\n",
        version = env!("CARGO_PKG_VERSION"),
        label = engine.label(),
        name = engine.name(),
        period = r.period,
        p0 = r.p0,
        p1 = r.p1,
        gap = r.max_gap_s,
        gap_ms = r.max_gap_ms,
        factor = r.limit_factor,
        tz = r.time_zone,
        rows = r.claims_rows,
        sha = r.claims_sha256,
        driver = match engine {
            Engine::DuckDb => String::new(),
            Engine::Spark => {
                use sha2::Digest;
                format!(
                    "-- driver sha256: {:x}\n\
                     -- param p0 = {}\n-- param p1 = {}\n-- param max_gap_ms = {}\n",
                    sha2::Sha256::digest(SPARK_DRIVER.as_bytes()),
                    r.p0,
                    r.p1,
                    r.max_gap_ms
                )
            }
        },
    )
}

/// The samples as rows with a readable node, device and time, and whether their power is
/// valid (finite, in [0, the node's limit]).
fn rows_view(e: Engine) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "-- rows with a readable node, device and time; ok: finite power in [0, limit]\n\
         CREATE OR REPLACE TEMP VIEW gl_rows AS\n\
         SELECT r.node, r.device, r.t, r.p,\n\
         \x20      COALESCE(r.p >= 0E0 AND {finite_p} AND (l.limit_w IS NULL OR r.p <= l.limit_w), FALSE) AS ok\n\
         FROM (\n\
         \x20 SELECT lower(split_part(trim(CAST(node AS {string})), '.', 1)) AS node,\n\
         \x20        TRY_CAST(device AS BIGINT) AS device, {epoch} AS t, TRY_CAST(power_w AS DOUBLE) AS p\n\
         \x20 FROM samples\n\
         ) r\n\
         LEFT JOIN (SELECT node, max(limit_w) AS limit_w FROM claims GROUP BY node) l ON r.node = l.node\n\
         WHERE r.node IS NOT NULL AND r.device >= 0 AND r.device < 4294967295 AND r.t IS NOT NULL;\n\n\
         -- node power rows (the view `node_power`: timestamp, node, power_w) with a readable node and time;\n\
         -- ok: finite power above 0 (a BMC writes 0 when it has no reading: a gap)\n\
         CREATE OR REPLACE TEMP VIEW gl_nrows AS\n\
         SELECT node, t, p, COALESCE(p > 0E0 AND {finite_np}, FALSE) AS ok\n\
         FROM (\n\
         \x20 SELECT lower(split_part(trim(CAST(node AS {string})), '.', 1)) AS node, {epoch} AS t, TRY_CAST(power_w AS DOUBLE) AS p\n\
         \x20 FROM node_power\n\
         ) r\n\
         WHERE node IS NOT NULL AND t IS NOT NULL;\n\n\
         -- energy-counter rows (the view `counters`: timestamp, node, device, energy_mj) with a readable node,\n\
         -- device, time and energy; ok: a finite count of at least 0 mJ\n\
         CREATE OR REPLACE TEMP VIEW gl_crows AS\n\
         SELECT node, device, t, m, COALESCE(m >= 0E0 AND {finite_m}, FALSE) AS ok\n\
         FROM (\n\
         \x20 SELECT lower(split_part(trim(CAST(node AS {string})), '.', 1)) AS node, TRY_CAST(device AS BIGINT) AS device,\n\
         \x20        {epoch} AS t, TRY_CAST(energy_mj AS DOUBLE) AS m\n\
         \x20 FROM counters\n\
         ) r\n\
         WHERE node IS NOT NULL AND device >= 0 AND device < 4294967295 AND t IS NOT NULL AND m IS NOT NULL;\n\n",
        string = e.string_type(),
        epoch = e.epoch_ms(),
        finite_p = e.finite("r.p"),
        finite_np = e.finite("p"),
        finite_m = e.finite("m"),
    ));
    s
}

/// Spark's results, when the per-device rows its driver writes into `gl_out` (kind `device`,
/// `claim`, `hour` or `idle`) are too many to sum on the driver: the same columns and rules as
/// DuckDB's, and as the driver's own sums (`results` in run_spark.py). `gl_read` holds the
/// rows read.
fn spark_results() -> String {
    let h = "3600";
    format!(
        "-- result: job_energy\n\
         -- per job: joules and device-seconds within its claims and the period; valid instants\n\
         -- inside its claims; the devices it held and the devices of the nodes it held them on\n\
         SELECT a.job_id, a.sampled_j, a.covered_s, COALESCE(n.samples, 0) AS samples, a.devices, nd.node_devices\n\
         FROM (SELECT job_id, sum(j) AS sampled_j, sum(cs) AS covered_s, count(*) AS devices FROM {claims} WHERE parts > 0 GROUP BY job_id) a\n\
         JOIN (SELECT x.job_id, CAST(sum(c.n) AS BIGINT) AS node_devices\n\
         \x20     FROM (SELECT DISTINCT job_id, node FROM {claims} WHERE parts > 0) x\n\
         \x20     JOIN (SELECT node, count(*) AS n FROM {dev} GROUP BY node) c ON x.node = c.node\n\
         \x20     GROUP BY x.job_id) nd ON a.job_id = nd.job_id\n\
         LEFT JOIN (SELECT job_id, CAST(sum(n) AS BIGINT) AS samples FROM {claims} GROUP BY job_id) n ON a.job_id = n.job_id\n\
         ORDER BY a.job_id;\n\n\
         -- result: job_hourly\n\
         -- per job and hour (start, epoch seconds): joules\n\
         SELECT job_id, h * {h} AS hour_start, sum(j) AS joules\n\
         FROM (SELECT job_id, node, device, h, sum(j) AS j FROM gl_out WHERE kind = 'hour' GROUP BY job_id, node, device, h) x\n\
         WHERE j <> 0E0\n\
         GROUP BY job_id, h\n\
         ORDER BY job_id, hour_start;\n\n\
         -- result: device_energy\n\
         SELECT node, device, n AS samples, dropped, dups AS duplicates, gaps, gap_ms, j AS total_j, x AS idle_j, first_ms, last_ms\n\
         FROM {dev} ORDER BY node, device;\n\n\
         -- result: node_energy\n\
         -- per node: devices, joules in the period, joules no job claims, first and last instant (epoch ms)\n\
         SELECT node, count(*) AS device_count, sum(j) AS total_j, sum(x) AS idle_j, min(first_ms) AS first_ms, max(last_ms) AS last_ms\n\
         FROM {dev} GROUP BY node ORDER BY node;\n\n\
         -- result: node_hourly\n\
         -- per node and hour (start, epoch seconds): joules no job claims\n\
         SELECT node, h * {h} AS hour_start, sum(j) AS idle_j\n\
         FROM (SELECT node, device, h, sum(j) AS j FROM gl_out WHERE kind = 'idle' GROUP BY node, device, h) x\n\
         WHERE j <> 0E0\n\
         GROUP BY node, h\n\
         ORDER BY node, hour_start;\n\n\
         -- result: node_power\n\
         -- per node with node power: its rows, drops, duplicates, gaps, first and last instant\n\
         SELECT node, CAST(sum(n) AS BIGINT) AS samples, CAST(sum(dropped) AS BIGINT) AS dropped, CAST(sum(dups) AS BIGINT) AS duplicates,\n\
         \x20      CAST(sum(gaps) AS BIGINT) AS gaps, CAST(sum(gap_ms) AS BIGINT) AS gap_ms, min(first_ms) AS first_ms, max(last_ms) AS last_ms\n\
         FROM gl_out WHERE kind = 'npower' GROUP BY node ORDER BY node;\n\n\
         -- result: node_windows\n\
         -- per node with node power and window it covers: node joules and milliseconds, its accelerators' joules\n\
         SELECT n.node, n.ws AS start_ms, n.we AS end_ms, n.j AS node_j, n.ms AS node_ms, COALESCE(a.j, 0E0) AS gpu_j\n\
         FROM (SELECT node, h AS ws, max(last_ms) AS we, sum(j) AS j, CAST(sum(n) AS BIGINT) AS ms FROM gl_out\n\
         \x20     WHERE kind = 'win' AND device = -1 GROUP BY node, h) n\n\
         LEFT JOIN (SELECT node, h AS ws, sum(j) AS j FROM gl_out WHERE kind = 'win' AND device <> -1 GROUP BY node, h) a\n\
         \x20 ON n.node = a.node AND n.ws = a.ws\n\
         WHERE n.ms > 0\n\
         ORDER BY n.node, start_ms;\n\n\
         -- result: device_counters\n\
         -- per device with energy-counter rows: readings used, not used (no count), resets\n\
         SELECT node, device, CAST(sum(n) AS BIGINT) AS readings, CAST(sum(dropped) AS BIGINT) AS dropped, CAST(sum(parts) AS BIGINT) AS resets\n\
         FROM gl_out WHERE kind = 'cdev' GROUP BY node, device ORDER BY node, device;\n\n\
         -- result: job_counters\n\
         -- per job: counter joules (each delta spread evenly over its interval) and the device-seconds they cover\n\
         SELECT job_id, sum(j) AS counter_j, sum(x) AS covered_s FROM gl_out WHERE kind = 'cnt' GROUP BY job_id ORDER BY job_id;\n\n\
         -- result: quality\n\
         -- rows of the samples, those used as samples (readable node, device and time), devices,\n\
         -- duplicates, dropped samples, gaps and their seconds inside the period; rows of node power and counters\n\
         SELECT (SELECT rows FROM gl_read) AS rows, CAST(sum(n) AS BIGINT) AS samples, count(*) AS devices,\n\
         \x20      CAST(sum(dups) AS BIGINT) AS duplicates, CAST(sum(dropped) AS BIGINT) AS dropped,\n\
         \x20      CAST(sum(gaps) AS BIGINT) AS gaps, CAST(sum(gap_ms) AS DOUBLE) / 1000E0 AS gap_s,\n\
         \x20      (SELECT node_power_rows FROM gl_read) AS node_power_rows, (SELECT counter_rows FROM gl_read) AS counter_rows\n\
         FROM {dev};\n",
        dev = "(SELECT node, device, sum(n) AS n, sum(dropped) AS dropped, sum(dups) AS dups, sum(gaps) AS gaps, sum(gap_ms) AS gap_ms, sum(j) AS j, sum(x) AS x, min(first_ms) AS first_ms, max(last_ms) AS last_ms FROM gl_out WHERE kind = 'device' GROUP BY node, device) d",
        claims = "(SELECT job_id, node, device, sum(j) AS j, sum(x) AS cs, max(parts) AS parts, sum(n) AS n FROM gl_out WHERE kind = 'claim' GROUP BY job_id, node, device) g",
    )
}

/// Rows, instants, segments, hour pieces, claims and their parts: the tables the results read.
fn shared_tables(e: Engine, r: &Rules) -> String {
    let div = e.int_div();
    let (p0, p1, gap) = (r.p0, r.p1, r.max_gap_ms);
    let h = HOUR_MS;
    let mut s = String::new();
    s.push_str(&rows_view(e));
    s.push_str(&format!(
        "-- each device's instants: the mean of the valid rows (duplicates count once), valid and dropped rows;\n\
         -- node power is the node's device -1\n\
         {mat} gl_inst AS\n\
         SELECT node, device, t, avg(CASE WHEN ok THEN p END) AS p,\n\
         \x20      CAST(sum(CASE WHEN ok THEN 1 ELSE 0 END) AS BIGINT) AS n_ok, CAST(sum(CASE WHEN ok THEN 0 ELSE 1 END) AS BIGINT) AS n_bad\n\
         FROM (SELECT node, device, t, p, ok FROM gl_rows\n\
         \x20     UNION ALL SELECT node, CAST(-1 AS BIGINT) AS device, t, p, ok FROM gl_nrows) r\n\
         GROUP BY node, device, t;\n\n\
         CREATE OR REPLACE TEMP VIEW gl_points AS\n\
         SELECT node, device, t, p, n_ok - 1 AS dups FROM gl_inst WHERE n_ok > 0;\n\n",
        mat = e.materialise(),
    ));
    s.push_str(&format!(
        "-- energy-counter readings: one per device and time (the smallest), and the deltas between them (a\n\
         -- reading below the one before is a reset: the energy since it counts from zero)\n\
         {mat} gl_cnt AS\n\
         SELECT node, device, t, min(m) AS m FROM gl_crows WHERE ok GROUP BY node, device, t;\n\n\
         {mat} gl_cdelta AS\n\
         SELECT node, device, t0, t1, CASE WHEN m1 >= m0 THEN (m1 - m0) / 1000E0 ELSE m1 / 1000E0 END AS dj, m1 < m0 AS reset\n\
         FROM (SELECT node, device, t AS t0, m AS m0, lead(t) OVER w AS t1, lead(m) OVER w AS m1\n\
         \x20     FROM gl_cnt WINDOW w AS (PARTITION BY node, device ORDER BY t)) x\n\
         WHERE t1 IS NOT NULL;\n\n\
         -- every accelerator seen (with any sample row, valid or not, or a valid counter reading)\n\
         {mat} gl_devices AS\n\
         SELECT DISTINCT node, device FROM gl_inst WHERE device <> -1\n\
         UNION SELECT DISTINCT node, device FROM gl_cnt;\n\n",
        mat = e.materialise(),
    ));
    s.push_str(&format!(
        "-- segments between consecutive instants that reach into the period, clipped to it as [a, b)\n\
         {mat} gl_segs AS\n\
         SELECT g.node, g.device, g.t0, g.p0, g.t1, g.p1, g.a, g.b, g.gap,\n\
         \x20      CASE WHEN g.gap THEN 0E0 ELSE {e_all} END AS e_all\n\
         FROM (\n\
         \x20 SELECT node, device, t0, p0, t1, p1, greatest(t0, {p0}) AS a, least(t1, {p1}) AS b, t1 - t0 > {gap} AS gap\n\
         \x20 FROM (SELECT node, device, t AS t0, p AS p0, lead(t) OVER w AS t1, lead(p) OVER w AS p1\n\
         \x20       FROM gl_points WINDOW w AS (PARTITION BY node, device ORDER BY t)) x\n\
         \x20 WHERE t1 IS NOT NULL\n\
         ) g\n\
         WHERE g.b > g.a;\n\n",
        mat = e.materialise(),
        e_all = trapezoid("g.a", "g.b"),
    ));
    let (x, y) = (
        format!("greatest(g.a, g.h * {h})"),
        format!("least(g.b, (g.h + 1) * {h})"),
    );
    s.push_str(&format!(
        "-- energy segments cut at hour boundaries: one piece per hour they touch\n\
         {mat} gl_pieces AS\n\
         SELECT g.node, g.device, g.t0, g.h, g.a, g.b, {x} AS x, {y} AS y,\n\
         \x20      g.t1, g.p0, g.p1,\n\
         \x20      CASE WHEN g.a {div} {h} = (g.b - 1) {div} {h} THEN g.e_all ELSE {piece} END AS piece_j\n\
         FROM (SELECT s.*, {explode} AS h FROM gl_segs s WHERE NOT s.gap) g;\n\n",
        mat = e.materialise(),
        piece = trapezoid(&x, &y),
        explode = e.explode(&format!("s.a {div} {h}"), &format!("(s.b - 1) {div} {h}")),
    ));
    s.push_str(&windows_table(e, r));
    s.push_str(&claim_tables(e));
    s.push_str(&device_table(e, "gl_devices", "gl_device"));
    s.push_str(&device_table(
        e,
        "(SELECT DISTINCT node, device FROM gl_inst WHERE device = -1)",
        "gl_node",
    ));
    s
}

/// The windows of each node with node power (the period cut at every hour and at every start
/// and end of the node's claims, CPU-only ones too), and each device's energy and covered
/// milliseconds in each: host energy is node power minus its accelerators', window by window.
fn windows_table(e: Engine, r: &Rules) -> String {
    let div = e.int_div();
    let (p0, p1, h) = (r.p0, r.p1, HOUR_MS);
    let (x, y) = ("greatest(g.x, w.ws)", "least(g.y, w.we)");
    format!(
        "-- the windows of the nodes with node power: the period cut at every hour and claim start and end\n\
         {mat} gl_windows AS\n\
         SELECT node, ws, we, ws {div} {h} AS h\n\
         FROM (SELECT node, c AS ws, lead(c) OVER (PARTITION BY node ORDER BY c) AS we\n\
         \x20     FROM (SELECT DISTINCT node, c FROM (\n\
         \x20       SELECT n.node, k.c FROM (SELECT DISTINCT node FROM gl_inst WHERE device = -1) n\n\
         \x20       CROSS JOIN (SELECT greatest(x * {h}, {p0}) AS c FROM (SELECT {hours} AS x) hs UNION ALL SELECT {p1} AS c) k\n\
         \x20       UNION ALL\n\
         \x20       SELECT c.node, c.c FROM (SELECT node, start_ms AS c FROM claims UNION ALL SELECT node, end_ms AS c FROM claims) c\n\
         \x20       JOIN (SELECT DISTINCT node FROM gl_inst WHERE device = -1) n ON c.node = n.node\n\
         \x20       WHERE c.c > {p0} AND c.c < {p1}) a) b) w\n\
         WHERE we IS NOT NULL;\n\n\
         -- each device's energy and covered milliseconds in each window of its node (pieces lie within an hour)\n\
         {mat} gl_wparts AS\n\
         SELECT g.node, g.device, w.ws, w.we, sum({part}) AS j, CAST(sum({y} - {x}) AS BIGINT) AS ms\n\
         FROM gl_pieces g JOIN gl_windows w ON g.node = w.node AND g.h = w.h AND w.ws < g.y AND w.we > g.x\n\
         GROUP BY g.node, g.device, w.ws, w.we;\n\n",
        mat = e.materialise(),
        hours = e.explode(&format!("{p0} {div} {h}"), &format!("({p1} - 1) {div} {h}")),
        part = trapezoid(x, y),
    )
}

/// Claims made disjoint and cut by hour, and each piece's part in each claim.
fn claim_tables(e: Engine) -> String {
    let div = e.int_div();
    let h = HOUR_MS;
    let mut s = String::new();
    s.push_str(&format!(
        "-- claims on the devices seen (no device: all of the node's), made disjoint per device (the\n\
         -- earlier-starting job keeps an overlap), one row per hour they touch\n\
         -- (a CPU-only job's claim, with cores, holds no accelerator)\n\
         {mat} gl_dclaims AS\n\
         SELECT job_index, job_id, node, device, s, e\n\
         FROM (\n\
         \x20 SELECT job_index, job_id, node, device, CASE WHEN reach IS NOT NULL AND s0 < reach THEN least(reach, e) ELSE s0 END AS s, e\n\
         \x20 FROM (\n\
         \x20   SELECT c.job_index, c.job_id, d.node, d.device, c.start_ms AS s0, c.end_ms AS e,\n\
         \x20          max(c.end_ms) OVER (PARTITION BY d.node, d.device ORDER BY c.start_ms, c.end_ms, c.job_index\n\
         \x20                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach\n\
         \x20   FROM claims c JOIN gl_devices d ON c.node = d.node AND (c.device IS NULL OR c.device = d.device)\n\
         \x20   WHERE c.cores IS NULL\n\
         \x20 ) o\n\
         ) c\n\
         WHERE e > s;\n\n\
         {mat} gl_claims AS\n\
         SELECT job_index, job_id, node, device, s, e, {explode} AS h FROM gl_dclaims;\n\n",
        mat = e.materialise(),
        explode = e.explode(&format!("s {div} {h}"), &format!("(e - 1) {div} {h}")),
    ));
    let (cx, cy) = ("greatest(g.x, c.s)", "least(g.y, c.e)");
    let (ca, cb) = ("greatest(g.a, c.s)", "least(g.b, c.e)");
    s.push_str(&format!(
        "-- each piece's part in each claim; the claim's energy over the whole segment sits on its first piece\n\
         {mat} gl_parts AS\n\
         SELECT c.job_index, c.job_id, g.node, g.device, g.t0, g.h,\n\
         \x20      {part} AS part_j,\n\
         \x20      CASE WHEN {cx} = {ca} THEN {claim} ELSE 0E0 END AS claim_j,\n\
         \x20      CASE WHEN {cx} = {ca} THEN CAST({cb} - {ca} AS DOUBLE) / 1000E0 ELSE 0E0 END AS claim_s\n\
         FROM gl_pieces g JOIN gl_claims c\n\
         \x20 ON g.node = c.node AND g.device = c.device AND g.h = c.h AND c.s < g.y AND c.e > g.x;\n\n",
        mat = e.materialise(),
        part = trapezoid(cx, cy),
        claim = trapezoid(ca, cb),
    ));
    s
}

/// Per device of `devices` into `table`: rows, drops, duplicates, gaps, energy and idle
/// energy, first and last instant (a device seen only by its counters has no rows).
fn device_table(e: Engine, devices: &str, table: &str) -> String {
    format!(
        "-- per device: rows, drops, duplicates, gaps (the part inside the period), energy, idle energy\n\
         {mat} {table} AS\n\
         SELECT d.node, d.device, COALESCE(r.samples, 0) AS samples, COALESCE(r.dropped, 0) AS dropped, COALESCE(pt.duplicates, 0) AS duplicates,\n\
         \x20      COALESCE(gp.gaps, 0) AS gaps, COALESCE(gp.gap_ms, 0) AS gap_ms,\n\
         \x20      COALESCE(en.total_j, 0E0) AS total_j, COALESCE(en.idle_j, 0E0) AS idle_j,\n\
         \x20      pt.first_ms, pt.last_ms\n\
         FROM {devices} d\n\
         LEFT JOIN (SELECT node, device, CAST(sum(n_ok + n_bad) AS BIGINT) AS samples, CAST(sum(n_bad) AS BIGINT) AS dropped\n\
         \x20     FROM gl_inst GROUP BY node, device) r ON d.node = r.node AND d.device = r.device\n\
         LEFT JOIN (SELECT node, device, CAST(sum(dups) AS BIGINT) AS duplicates, min(t) AS first_ms, max(t) AS last_ms\n\
         \x20          FROM gl_points GROUP BY node, device) pt ON d.node = pt.node AND d.device = pt.device\n\
         LEFT JOIN (SELECT node, device, count(*) AS gaps, CAST(sum(b - a) AS BIGINT) AS gap_ms\n\
         \x20          FROM gl_segs WHERE gap GROUP BY node, device) gp ON d.node = gp.node AND d.device = gp.device\n\
         LEFT JOIN (SELECT s.node, s.device, sum(s.e_all) AS total_j, sum(s.e_all - COALESCE(k.claimed, 0E0)) AS idle_j\n\
         \x20          FROM gl_segs s\n\
         \x20          LEFT JOIN (SELECT node, device, t0, sum(claim_j) AS claimed FROM gl_parts GROUP BY node, device, t0) k\n\
         \x20            ON s.node = k.node AND s.device = k.device AND s.t0 = k.t0\n\
         \x20          WHERE NOT s.gap GROUP BY s.node, s.device) en ON d.node = en.node AND d.device = en.device;\n\n",
        mat = e.materialise(),
    )
}

/// One statement per result, each marked `-- result: NAME`.
fn results(e: Engine) -> String {
    let h = "3600";
    let mut s = String::new();
    s.push_str(&format!(
        "-- result: job_energy\n\
         -- per job: joules and device-seconds within its claims and the period; valid instants\n\
         -- inside its claims; the devices it held and the devices of the nodes it held them on\n\
         SELECT a.job_id, a.sampled_j, a.covered_s, COALESCE(n.samples, 0) AS samples, a.devices, nd.node_devices\n\
         FROM (SELECT job_id, sum(j) AS sampled_j, sum(cs) AS covered_s, count(*) AS devices\n\
         \x20     FROM (SELECT job_id, node, device, sum(claim_j) AS j, sum(claim_s) AS cs FROM gl_parts GROUP BY job_id, node, device) jd\n\
         \x20     GROUP BY job_id) a\n\
         JOIN (SELECT x.job_id, CAST(sum(c.n) AS BIGINT) AS node_devices\n\
         \x20     FROM (SELECT DISTINCT job_id, node FROM gl_parts) x\n\
         \x20     JOIN (SELECT node, count(*) AS n FROM gl_devices GROUP BY node) c ON x.node = c.node\n\
         \x20     GROUP BY x.job_id) nd ON a.job_id = nd.job_id\n\
         LEFT JOIN (SELECT c.job_id, count(*) AS samples\n\
         \x20          FROM gl_points p JOIN gl_claims c\n\
         \x20            ON p.node = c.node AND p.device = c.device AND p.t {div} {hour_ms} = c.h AND p.t >= c.s AND p.t < c.e\n\
         \x20          GROUP BY c.job_id) n ON a.job_id = n.job_id\n\
         ORDER BY a.job_id;\n\n",
        div = e.int_div(),
        hour_ms = HOUR_MS,
    ));
    s.push_str(&format!(
        "-- result: job_hourly\n\
         -- per job and hour (start, epoch seconds): joules\n\
         SELECT job_id, h * {h} AS hour_start, sum(j) AS joules\n\
         FROM (SELECT job_id, node, device, h, sum(part_j) AS j FROM gl_parts GROUP BY job_id, node, device, h) x\n\
         WHERE j <> 0E0\n\
         GROUP BY job_id, h\n\
         ORDER BY job_id, hour_start;\n\n"
    ));
    s.push_str(
        "-- result: device_energy\n\
         SELECT * FROM gl_device ORDER BY node, device;\n\n",
    );
    s.push_str(
        "-- result: node_energy\n\
         -- per node: devices, joules in the period, joules no job claims, first and last instant (epoch ms)\n\
         SELECT node, count(*) AS device_count, sum(total_j) AS total_j, sum(idle_j) AS idle_j,\n\
         \x20      min(first_ms) AS first_ms, max(last_ms) AS last_ms\n\
         FROM gl_device GROUP BY node ORDER BY node;\n\n",
    );
    s.push_str(&format!(
        "-- result: node_hourly\n\
         -- per node and hour (start, epoch seconds): joules no job claims\n\
         SELECT node, h * {h} AS hour_start, sum(j) AS idle_j\n\
         FROM (SELECT g.node, g.device, g.h, sum(g.piece_j - COALESCE(k.claimed, 0E0)) AS j\n\
         \x20     FROM gl_pieces g\n\
         \x20     LEFT JOIN (SELECT node, device, t0, h, sum(part_j) AS claimed FROM gl_parts GROUP BY node, device, t0, h) k\n\
         \x20       ON g.node = k.node AND g.device = k.device AND g.t0 = k.t0 AND g.h = k.h\n\
         \x20     WHERE g.device <> -1\n\
         \x20     GROUP BY g.node, g.device, g.h) x\n\
         WHERE j <> 0E0\n\
         GROUP BY node, h\n\
         ORDER BY node, hour_start;\n\n"
    ));
    s.push_str(
        "-- result: node_power\n\
         -- per node with node power: its rows, drops, duplicates, gaps, first and last instant\n\
         SELECT node, samples, dropped, duplicates, gaps, gap_ms, first_ms, last_ms FROM gl_node ORDER BY node;\n\n\
         -- result: node_windows\n\
         -- per node with node power and window it covers: node joules and milliseconds, its accelerators' joules\n\
         SELECT n.node, n.ws AS start_ms, n.we AS end_ms, n.j AS node_j, n.ms AS node_ms, COALESCE(a.j, 0E0) AS gpu_j\n\
         FROM (SELECT * FROM gl_wparts WHERE device = -1 AND ms > 0) n\n\
         LEFT JOIN (SELECT node, ws, sum(j) AS j FROM gl_wparts WHERE device <> -1 GROUP BY node, ws) a\n\
         \x20 ON n.node = a.node AND n.ws = a.ws\n\
         ORDER BY n.node, start_ms;\n\n",
    );
    s.push_str(&counter_results());
    s.push_str(
        "-- result: quality\n\
         -- rows of the samples, those used as samples (readable node, device and time), devices,\n\
         -- duplicates, dropped samples, gaps and their seconds inside the period; rows of node power and counters\n\
         SELECT (SELECT count(*) FROM samples) AS rows, CAST(sum(samples) AS BIGINT) AS samples, count(*) AS devices,\n\
         \x20      CAST(sum(duplicates) AS BIGINT) AS duplicates, CAST(sum(dropped) AS BIGINT) AS dropped,\n\
         \x20      CAST(sum(gaps) AS BIGINT) AS gaps, CAST(sum(gap_ms) AS DOUBLE) / 1000E0 AS gap_s,\n\
         \x20      (SELECT count(*) FROM node_power) AS node_power_rows, (SELECT count(*) FROM counters) AS counter_rows\n\
         FROM gl_device;\n",
    );
    s
}

/// Energy counters: each device's readings, drops and resets, and each delta spread over the
/// device's claims by the time they share ([`super::counters`], operation for operation).
fn counter_results() -> String {
    let o = "CAST(least(d.t1, c.e) - greatest(d.t0, c.s) AS DOUBLE)";
    format!(
        "-- result: device_counters\n\
         -- per device with energy-counter rows: readings used, not used (no count), resets\n\
         SELECT r.node, r.device, r.readings, r.dropped, COALESCE(x.resets, 0) AS resets\n\
         FROM (SELECT node, device, CAST(sum(CASE WHEN ok THEN 1 ELSE 0 END) AS BIGINT) AS readings,\n\
         \x20            CAST(sum(CASE WHEN ok THEN 0 ELSE 1 END) AS BIGINT) AS dropped\n\
         \x20     FROM gl_crows GROUP BY node, device) r\n\
         LEFT JOIN (SELECT node, device, CAST(sum(CASE WHEN reset THEN 1 ELSE 0 END) AS BIGINT) AS resets\n\
         \x20          FROM gl_cdelta GROUP BY node, device) x ON r.node = x.node AND r.device = x.device\n\
         ORDER BY r.node, r.device;\n\n\
         -- result: job_counters\n\
         -- per job: counter joules (each delta spread evenly over its interval) and the device-seconds they cover\n\
         SELECT c.job_id, sum(d.dj * {o} / CAST(d.t1 - d.t0 AS DOUBLE)) AS counter_j, sum({o} / 1000E0) AS covered_s\n\
         FROM gl_cdelta d JOIN gl_dclaims c ON d.node = c.node AND d.device = c.device AND d.t0 < c.e AND d.t1 > c.s\n\
         GROUP BY c.job_id\n\
         ORDER BY c.job_id;\n\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statements of a SQL file: (result name or None, text without the final `;`), split as
    /// the drivers (run_spark.py, run_duckdb.py) split it.
    fn statements(sql: &str) -> Vec<(Option<String>, String)> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut name: Option<String> = None;
        for line in sql.lines() {
            if let Some(n) = line.strip_prefix("-- result: ") {
                name = Some(n.trim().to_string());
            }
            if line.starts_with("--") || (cur.is_empty() && line.trim().is_empty()) {
                continue;
            }
            cur.push_str(line);
            cur.push('\n');
            if line.trim_end().ends_with(';') {
                let text = cur.trim_end().trim_end_matches(';').to_string();
                out.push((name.take(), text));
                cur.clear();
            }
        }
        out
    }

    fn rules() -> Rules {
        Rules {
            p0: 0,
            p1: 7_200_000,
            period: "1970-01-01".into(),
            max_gap_s: 120.0,
            max_gap_ms: 120_000,
            limit_factor: super::super::LIMIT_TDP_FACTOR,
            time_zone: "UTC".into(),
            claims_rows: 0,
            claims_sha256: "0".into(),
        }
    }

    /// The results an engine writes, in the order the SQL produces them.
    const RESULTS: [&str; 10] = [
        "job_energy",
        "job_hourly",
        "device_energy",
        "node_energy",
        "node_hourly",
        "node_power",
        "node_windows",
        "device_counters",
        "job_counters",
        "quality",
    ];

    /// Spark's file reads the rows and sums its driver's per-device rows (when there are too
    /// many for the driver); the driver, whose digest and parameters the header names,
    /// integrates them.
    #[test]
    fn spark_reads_the_rows_and_names_its_driver() {
        use sha2::Digest;
        let sql = generate(Engine::Spark, &rules());
        let st = statements(&sql);
        let names: Vec<&str> = st.iter().filter_map(|(n, _)| n.as_deref()).collect();
        assert_eq!(names, RESULTS.to_vec());
        assert!(sql.contains("CREATE OR REPLACE TEMP VIEW gl_raw AS"));
        assert!(sql.contains("CREATE OR REPLACE TEMP VIEW gl_rows AS"));
        let sha = format!("{:x}", sha2::Sha256::digest(SPARK_DRIVER.as_bytes()));
        assert!(sql.contains(&format!("-- driver sha256: {sha}\n")));
        for line in [
            "-- param p0 = 0",
            "-- param p1 = 7200000",
            "-- param max_gap_ms = 120000",
        ] {
            assert!(sql.contains(line), "{line}");
        }
        // The driver reads these names.
        for name in [
            "-- param ",
            "-- driver sha256:",
            "gl_raw",
            "gl_rows",
            "HOUR_MS = 3_600_000",
        ] {
            assert!(SPARK_DRIVER.contains(name), "{name}");
        }
    }

    /// DuckDB's file is the rules as SQL; both files name every result once, each one statement.
    #[test]
    fn every_result_is_one_statement_and_the_rules_are_in_it() {
        let sql = generate(Engine::DuckDb, &rules());
        assert!(sql.contains("t1 - t0 > 120000"), "the gap rule");
        assert!(sql.contains("greatest(t0, 0) AS a, least(t1, 7200000) AS b"));
        for e in [Engine::Spark, Engine::DuckDb] {
            let sql = generate(e, &rules());
            let st = statements(&sql);
            let names: Vec<&str> = st.iter().filter_map(|(n, _)| n.as_deref()).collect();
            assert_eq!(names, RESULTS.to_vec(), "{e:?}");
            assert!(sql.contains(&format!(
                "power limit: {} x",
                super::super::LIMIT_TDP_FACTOR
            )));
            assert!(
                st.iter().all(|(_, t)| !t.contains(';')),
                "one statement each"
            );
        }
    }

    #[test]
    fn the_trapezoid_is_the_in_process_expression() {
        // (pa + pb) / 2 * ((b - a) / 1000), pa and pb on the line through both samples.
        let t = trapezoid("A", "B");
        assert!(t.starts_with(
            "((g.p0 + (g.p1 - g.p0) * (CAST((A) - g.t0 AS DOUBLE) / CAST(g.t1 - g.t0 AS DOUBLE)))"
        ));
        assert!(t.ends_with(") / 2E0 * (CAST((B) - (A) AS DOUBLE) / 1000E0)"));
    }
}
