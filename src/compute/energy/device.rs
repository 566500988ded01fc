//! One device's integration state: samples in arrival order, duplicates averaged, gaps
//! counted, and each segment's straight-line integral clipped to the device's claims and the
//! period, with an hourly profile per claim.

/// Per-device integration state.
#[derive(Debug, Clone)]
pub(super) struct Dev {
    pub(super) node: u32,
    pub(super) device: u32,
    /// The sources (bit i: the i-th telemetry source, the last bit for all beyond 63) whose
    /// samples the device had: which readers a job's energy came from.
    pub(super) sources: u64,
    /// (job, start, end), sorted, made disjoint.
    pub(super) claims: Vec<(usize, i64, i64)>,
    pub(super) cursor: usize,
    pub(super) claim_j: Vec<f64>,
    pub(super) claim_s: Vec<f64>,
    /// Per claim, joules per hour since the hour of the claim's start.
    pub(super) claim_hours: Vec<Vec<f64>>,
    pub(super) prev: Option<(i64, f64)>,
    /// A point not yet final: (t, sum of power, count) — more samples at t may follow.
    pub(super) pending: Option<(i64, f64, u32)>,
    pub(super) out_of_order: bool,
    pub(super) rows: u64,
    pub(super) duplicates: u64,
    pub(super) dropped: u64,
    pub(super) gaps: u64,
    pub(super) gap_ms: i64,
    pub(super) total_j: f64,
    pub(super) idle_j: f64,
    /// Idle joules per hour, from the hour `idle_base` (epoch hours) on: the inventory's
    /// idle energy meets each hour's grid factor.
    pub(super) idle_hours: Vec<f64>,
    pub(super) idle_base: i64,
    pub(super) limit_w: Option<f64>,
    /// With node power: the node's windows (cut at every hour and claim boundary), this
    /// device's joules in each, and (for the node's own power) the milliseconds covered.
    pub(super) windows: Option<std::sync::Arc<Vec<(i64, i64)>>>,
    pub(super) win_cursor: usize,
    pub(super) win_j: Vec<f64>,
    pub(super) win_ms: Vec<i64>,
    /// Whole-node power (BMC): zero readings are gaps, and it is no accelerator.
    pub(super) whole_node: bool,
    /// The first valid sample's time (the last is `prev`): the span telemetry covers.
    pub(super) first_t: Option<i64>,
}

/// The shared parameters of integration.
#[derive(Debug, Clone, Copy)]
pub(super) struct Params {
    pub(super) p0: i64,
    pub(super) p1: i64,
    pub(super) max_gap_ms: i64,
}

impl Dev {
    pub(super) fn new(
        node: u32,
        device: u32,
        claims: Vec<(usize, i64, i64)>,
        limit_w: Option<f64>,
    ) -> Dev {
        let n = claims.len();
        Dev {
            node,
            device,
            claims,
            cursor: 0,
            claim_j: vec![0.0; n],
            claim_s: vec![0.0; n],
            claim_hours: vec![Vec::new(); n],
            prev: None,
            pending: None,
            out_of_order: false,
            rows: 0,
            duplicates: 0,
            dropped: 0,
            gaps: 0,
            gap_ms: 0,
            total_j: 0.0,
            idle_j: 0.0,
            idle_hours: Vec::new(),
            idle_base: 0,
            limit_w,
            windows: None,
            win_cursor: 0,
            win_j: Vec::new(),
            win_ms: Vec::new(),
            whole_node: false,
            first_t: None,
            sources: 0,
        }
    }

    /// Forget every result (before a sorted re-run).
    pub(super) fn reset(&mut self) {
        let claims = std::mem::take(&mut self.claims);
        let (windows, whole_node, sources) = (self.windows.take(), self.whole_node, self.sources);
        *self = Dev::new(self.node, self.device, claims, self.limit_w);
        self.whole_node = whole_node;
        self.sources = sources;
        if let Some(w) = windows {
            self.set_windows(w);
        }
    }

    /// Accumulate energy per node window (for host energy: node power minus accelerators).
    pub(super) fn set_windows(&mut self, w: std::sync::Arc<Vec<(i64, i64)>>) {
        self.win_j = vec![0.0; w.len()];
        self.win_ms = vec![0; w.len()];
        self.win_cursor = 0;
        self.windows = Some(w);
    }

    /// A segment's energy into the node windows it overlaps.
    fn window_energy(&mut self, t0: i64, p0: f64, t1: i64, p1: f64, a: i64, b: i64) {
        let Some(w) = &self.windows else {
            return;
        };
        while self.win_cursor < w.len() && w[self.win_cursor].1 <= a {
            self.win_cursor += 1;
        }
        let mut k = self.win_cursor;
        while k < w.len() && w[k].0 < b {
            let (x, y) = (a.max(w[k].0), b.min(w[k].1));
            if y > x {
                self.win_j[k] += trapezoid(t0, p0, t1, p1, x, y);
                self.win_ms[k] += y - x;
            }
            k += 1;
        }
    }

    /// One sample, in arrival order. Returns false when it arrived out of time order.
    #[inline]
    pub(super) fn push(&mut self, t: i64, p: f64, k: &Params) -> bool {
        self.rows += 1;
        let valid = if self.whole_node { p > 0.0 } else { p >= 0.0 };
        if !(p.is_finite() && valid && self.limit_w.is_none_or(|l| p <= l)) {
            self.dropped += 1;
            return true;
        }
        match self.pending {
            Some((pt, sum, n)) if t == pt => {
                self.pending = Some((pt, sum + p, n + 1));
                self.duplicates += 1;
                true
            }
            Some((pt, _, _)) if t < pt => false,
            Some((pt, sum, n)) => {
                self.point(pt, sum / n as f64, k);
                self.pending = Some((t, p, 1));
                true
            }
            None => {
                self.pending = Some((t, p, 1));
                true
            }
        }
    }

    pub(super) fn finish(&mut self, k: &Params) {
        if let Some((pt, sum, n)) = self.pending.take() {
            self.point(pt, sum / n as f64, k);
        }
    }

    /// A final point: integrate the segment from the previous one.
    #[inline]
    pub(super) fn point(&mut self, t1: i64, p1: f64, k: &Params) {
        if let Some((t0, p0)) = self.prev {
            self.segment(t0, p0, t1, p1, k);
        } else {
            self.first_t = Some(t1);
        }
        self.prev = Some((t1, p1));
    }

    #[inline]
    pub(super) fn segment(&mut self, t0: i64, p0: f64, t1: i64, p1: f64, k: &Params) {
        let dt = t1 - t0;
        if dt > k.max_gap_ms {
            // A gap carries no energy; count only the part inside the period.
            let inside = t1.min(k.p1) - t0.max(k.p0);
            if inside > 0 {
                self.gaps += 1;
                self.gap_ms += inside;
            }
            return;
        }
        let a = t0.max(k.p0);
        let b = t1.min(k.p1);
        if b <= a {
            return;
        }
        let e_all = trapezoid(t0, p0, t1, p1, a, b);
        self.total_j += e_all;
        if self.windows.is_some() {
            self.window_energy(t0, p0, t1, p1, a, b);
        }
        // Claims ending at or before this segment's start can never overlap later segments.
        while self.cursor < self.claims.len() && self.claims[self.cursor].2 <= t0 {
            self.cursor += 1;
        }
        let mut claimed = 0.0;
        let mut i = self.cursor;
        while i < self.claims.len() && self.claims[i].1 < b {
            let (_, s, e) = self.claims[i];
            let ca = a.max(s);
            let cb = b.min(e);
            if cb > ca {
                let ej = trapezoid(t0, p0, t1, p1, ca, cb);
                self.claim_j[i] += ej;
                self.claim_s[i] += (cb - ca) as f64 / 1000.0;
                claimed += ej;
                // The hourly profile: split at hour boundaries (a segment rarely crosses one).
                let base = s.div_euclid(HOUR_MS);
                let hours = &mut self.claim_hours[i];
                let mut x = ca;
                while x < cb {
                    let h = x.div_euclid(HOUR_MS);
                    let y = ((h + 1) * HOUR_MS).min(cb);
                    let part = if x == ca && y == cb {
                        ej
                    } else {
                        trapezoid(t0, p0, t1, p1, x, y)
                    };
                    let k = (h - base) as usize;
                    if hours.len() <= k {
                        hours.resize(k + 1, 0.0);
                    }
                    hours[k] += part;
                    x = y;
                }
            }
            i += 1;
        }
        self.idle_j += e_all - claimed;
        let h0 = a.div_euclid(HOUR_MS);
        if (b - 1).div_euclid(HOUR_MS) == h0 {
            self.idle_hour(h0, e_all - claimed);
        } else {
            self.idle_by_hour(t0, p0, t1, p1, a, b);
        }
    }

    /// Add idle joules to hour `h` (epoch hours; segments come in time order).
    #[inline]
    fn idle_hour(&mut self, h: i64, j: f64) {
        if self.idle_hours.is_empty() {
            self.idle_base = h;
        }
        let k = (h - self.idle_base).max(0) as usize;
        if self.idle_hours.len() <= k {
            self.idle_hours.resize(k + 1, 0.0);
        }
        self.idle_hours[k] += j;
    }

    /// A segment crossing an hour boundary: each hour's piece minus the claims' parts of it.
    fn idle_by_hour(&mut self, t0: i64, p0: f64, t1: i64, p1: f64, a: i64, b: i64) {
        let mut x = a;
        while x < b {
            let h = x.div_euclid(HOUR_MS);
            let y = ((h + 1) * HOUR_MS).min(b);
            let mut idle = trapezoid(t0, p0, t1, p1, x, y);
            for &(_, s, e) in &self.claims[self.cursor..] {
                if s >= y {
                    break;
                }
                let (ca, cb) = (x.max(s), y.min(e));
                if cb > ca {
                    idle -= trapezoid(t0, p0, t1, p1, ca, cb);
                }
            }
            self.idle_hour(h, idle);
            x = y;
        }
    }
}

pub(super) const HOUR_MS: i64 = 3_600_000;

/// Energy (J) of the straight line from (t0, p0) to (t1, p1), between a and b (ms).
#[inline]
pub(super) fn trapezoid(t0: i64, p0: f64, t1: i64, p1: f64, a: i64, b: i64) -> f64 {
    let span = (t1 - t0) as f64;
    let pa = p0 + (p1 - p0) * ((a - t0) as f64 / span);
    let pb = p0 + (p1 - p0) * ((b - t0) as f64 / span);
    (pa + pb) / 2.0 * ((b - a) as f64 / 1000.0)
}
