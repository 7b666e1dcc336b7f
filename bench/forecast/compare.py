#!/usr/bin/python3
"""bench/forecast/compare.py - the autoscaler's forecast next to what a data
scientist would run, on the same scored points and the same steps.

    bench/forecast/compare.py BUILD_DIR TRACE_DIR [TRACE_DIR...] [--json-only]

For every *.csv in the directories: `bountyfleet-autoscaler forecast-eval`
(the autoscaler's forecast, the Holt-Winters of before, seasonal-naive and
the 12-step moving average) and, in Python with statsmodels (Debian
python3-statsmodels), on the steps forecast-eval uses:

  es-{daily,weekly}-{fixed,weekly}  ExponentialSmoothing, additive damped
      trend, additive season of a day or a week (only when the fit part
      holds two of them), fitted on the fit part, then run online with its
      state updated every step: with the fitted constants all along
      ("fixed") or refitted on all history once a week ("weekly"; not for
      a season of more than REFIT_MAX_SEASON steps, whose fit takes minutes)
  es-none-fixed  the same without a season, when no season fits (Holt)
  stl-holt  STL of the fit part (the daily period, else the weekly one),
      damped Holt on the seasonally adjusted series, run online; the
      seasonal profile is the fit part's last cycle
  seasonal-naive  recomputed here as a check that the points agree

Scoring is forecast-eval's (autoscaler/forecast_eval.h): missing steps are
neither fitted on (they are interpolated for statsmodels' fit, which takes
no gaps, and skipped online) nor scored; sMAPE's denominator is at least
one arrival per step; MASE is scaled by the trace's seasonal-naive MAE over
all pairs of observed steps; coverage is the share of actuals inside the
95 % interval (statsmodels: +-1.96 x the fit's one-step RMSE x sqrt(h)).

Prints one JSON line per (trace, model), then a Markdown table. A
benchmark, not a test: nothing here fails on a number.
"""
import calendar
import glob
import json
import math
import os
import subprocess
import sys
import time
import warnings

import numpy as np

from statsmodels.tsa.holtwinters import ExponentialSmoothing  # noqa: E402
from statsmodels.tsa.seasonal import STL  # noqa: E402

# statsmodels turns its ConvergenceWarning back on when imported
warnings.simplefilter("ignore")

MAX_SEASON = 10080
HORIZON_S = 300.0
MIN_STEP_S = 60.0
FIT_FRACTION = 0.3
# One statsmodels fit of a season this long or longer takes minutes here
# (a 2016-step week of 5-minute steps: about 8 minutes on the 2-core build
# machine), so such a season is fitted once ("fixed") and not refitted
# every week.
REFIT_MAX_SEASON = 1008


def parse_time(s):
    s = s.strip()
    if len(s) >= 19 and s[4] == "-" and s[10] in " T":
        return float(calendar.timegm(time.strptime(s[:19].replace("T", " "),
                                                   "%Y-%m-%d %H:%M:%S")))
    return float(s)


def read_trace(path):
    """The steps of autoscaler/trace.c: arrivals/s per step, observed flags."""
    rows = []
    with open(path) as f:
        for i, line in enumerate(f):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            t, _, v = line.partition(",")
            try:
                rows.append((parse_time(t), float(v)))
            except ValueError:
                if i == 0:
                    continue
                raise
    interval = min(b[0] - a[0] for a, b in zip(rows, rows[1:]))
    step = max(interval, MIN_STEP_S)
    n = int(math.floor((rows[-1][0] - rows[0][0]) / step)) + 1
    arrivals = np.zeros(n)
    observed = np.zeros(n, dtype=bool)
    for t, v in rows:
        k = min(int(math.floor((t - rows[0][0]) / step)), n - 1)
        arrivals[k] += v
        observed[k] = True
    # a last step the recording ends inside (one interval after its last
    # row) holds part of its arrivals: not observed
    if n * step - ((rows[-1][0] - rows[0][0]) + interval) > 1e-6 * step:
        observed[n - 1] = False
    return step, arrivals / step, observed


def whole_steps(step, period):
    steps = period / step
    if steps < 2 or steps > MAX_SEASON or abs(steps - round(steps)) > 1e-9 * steps:
        return 0
    return int(round(steps))


def season_for(step, history):
    """bf_forecast_season_for: weekly if three weeks fit, daily if three days."""
    for period in (7 * 86400.0, 86400.0):
        steps = period / step
        if history >= 3 * period and 2 <= steps <= MAX_SEASON:
            return int(round(steps))
    return 0


class Online:
    """Additive damped Holt-Winters in statsmodels' own recursion
    (statsmodels/tsa/holtwinters/_smoothers.pyx, holt_add_dam), from a fitted
    result's final state; m = 0 for none. A missing step moves the state on
    without a correction."""

    def __init__(self, res, m, t_next):
        p = res.params
        self.alpha = p["smoothing_level"]
        self.beta = p.get("smoothing_trend", 0.0) or 0.0
        self.gamma = p.get("smoothing_seasonal", 0.0) or 0.0
        self.phi = p.get("damping_trend", 1.0)
        if self.phi is None or not np.isfinite(self.phi):
            self.phi = 1.0
        self.level = float(res.level[-1])
        self.trend = float(res.trend[-1]) if res.trend is not None else 0.0
        self.m = m
        self.t = t_next  # time index of the next step
        self.s = np.zeros(max(m, 1))
        if m:
            last = np.asarray(res.season)[-m:]
            for j in range(m):  # last[j] is the index of time t_next - m + j
                self.s[(t_next - m + j) % m] = last[j]
        self.sigma = math.sqrt(res.sse / len(res.fittedvalues))

    def point(self, h):
        damped = sum(self.phi ** i for i in range(1, h + 1))
        v = self.level + damped * self.trend
        if self.m:
            v += self.s[(self.t + h - 1) % self.m]
        return v

    def step(self, y):
        prev_l, prev_b = self.level, self.trend
        if np.isnan(y):
            self.level = prev_l + self.phi * prev_b
            self.trend = self.phi * prev_b
        else:
            s = self.s[self.t % self.m] if self.m else 0.0
            self.level = self.alpha * (y - s) + (1 - self.alpha) * (prev_l + self.phi * prev_b)
            self.trend = (self.beta * (self.level - prev_l)
                          + (1 - self.beta) * self.phi * prev_b)
            if self.m:
                self.s[self.t % self.m] = (self.gamma * (y - prev_l - self.phi * prev_b)
                                           + (1 - self.gamma) * s)
        self.t += 1


def filled(y):
    """Gaps interpolated linearly (only for fitting: statsmodels takes none)."""
    y = y.copy()
    bad = np.isnan(y)
    if bad.all():
        return np.zeros_like(y)
    idx = np.arange(len(y))
    y[bad] = np.interp(idx[bad], idx[~bad], y[~bad])
    return y


def fit_es(y, m):
    kw = dict(trend="add", damped_trend=True)
    if m:
        kw.update(seasonal="add", seasonal_periods=m, initialization_method="heuristic")
    else:
        kw.update(initialization_method="estimated")
    return ExponentialSmoothing(filled(y), **kw).fit()


def run_es(y, fit_n, h, m, refit_every):
    """Forecasts for every origin t >= fit_n - 1 (made after step t), and the
    half-widths of their intervals."""
    n = len(y)
    res = fit_es(y[:fit_n], m)
    model = Online(res, m, fit_n)
    out, half = {}, {}
    next_refit = fit_n + refit_every if refit_every else None
    t = fit_n - 1
    while t + h < n:
        out[t] = model.point(h)
        half[t] = 1.96 * model.sigma * math.sqrt(h)
        t += 1
        if t + h >= n:
            break
        if next_refit is not None and t == next_refit:
            res = fit_es(y[:t], m)
            model = Online(res, m, t)
            next_refit += refit_every
        model.step(y[t])
    return out, half


def run_stl(y, fit_n, h, m):
    fit = filled(y[:fit_n])
    stl = STL(fit, period=m, robust=True).fit()
    seas = np.zeros(m)
    for j in range(m):  # the last cycle's index per phase
        seas[(fit_n - m + j) % m] = stl.seasonal[fit_n - m + j]
    adj = fit - stl.seasonal
    res = ExponentialSmoothing(adj, trend="add", damped_trend=True,
                               initialization_method="estimated").fit()
    model = Online(res, 0, fit_n)
    out, half = {}, {}
    t = fit_n - 1
    while t + h < len(y):
        out[t] = model.point(h) + seas[(t + h) % m]
        half[t] = 1.96 * model.sigma * math.sqrt(h)
        t += 1
        if t + h >= len(y):
            break
        model.step(y[t] - seas[t % m] if not np.isnan(y[t]) else np.nan)
    return out, half


def run_naive(y, fit_n, h, m):
    out, half = {}, {}
    m = m or 1
    k = m * ((h + m - 1) // m)
    last = np.nan
    for t in range(len(y)):
        if not np.isnan(y[t]):
            last = y[t]
        if t < fit_n - 1 or t + h >= len(y):
            continue
        v = y[t + h - k]
        out[t] = max(last if np.isnan(v) else v, 0.0)
        half[t] = np.nan
    return out, half


def score(y, step, fit_n, h, scale, out, half):
    sm = ab = 0.0
    n = cov = 0
    for t, f in out.items():
        a = y[t + h]
        if np.isnan(a):
            continue
        f = max(f, 0.0)
        sm += 2 * abs(f - a) / max(abs(f) + abs(a), 1.0 / step)
        ab += abs(f - a)
        if not np.isnan(half[t]):
            cov += (max(f - half[t], 0.0) <= a <= f + half[t])
        n += 1
    return {"smape": sm / n, "mase": (ab / n) / scale if scale > 0 else None,
            "coverage": cov / n if not np.isnan(next(iter(half.values()))) else None,
            "scored": n}


def evaluate(path, binary):
    step, rate, observed = read_trace(path)
    y = np.where(observed, rate, np.nan)
    n = len(y)
    h = max(1, int(math.ceil(HORIZON_S / step - 1e-9)))
    fit_n = int(n * FIT_FRACTION)
    naive = season_for(step, step * fit_n)
    lag = naive or 1
    pairs = [abs(y[t] - y[t - lag]) for t in range(lag, n)
             if observed[t] and observed[t - lag]]
    scale = float(np.mean(pairs)) if pairs else 0.0
    c = json.loads(subprocess.run([binary, "forecast-eval", "--trace", path],
                                  check=True, capture_output=True, text=True).stdout)
    rows = {"forecast": c["models"]["forecast"],
            "holt-winters-before": c["models"]["holt-winters"],
            "moving-average": c["models"]["moving-average"]}
    info = {"step_s": step, "steps": n, "observed": int(observed.sum()), "horizon": h,
            "fit": fit_n, "scored": c["scored_steps"], "skipped": c["skipped_steps"],
            "structure": c["forecast"]["structure"],
            "refit_ms_max": c["forecast"]["refit_ms_max"]}
    models = {"seasonal-naive(py)": run_naive(y, fit_n, h, naive)}
    day, week = whole_steps(step, 86400.0), whole_steps(step, 7 * 86400.0)
    seasons = [(name, m) for name, m in (("daily", day), ("weekly", week))
               if m and fit_n >= 2 * m + 2]
    for name, m in seasons:
        for how, every in (("fixed", 0), ("weekly", week or int(7 * 86400 / step))):
            if every and m > REFIT_MAX_SEASON:
                continue
            models["es-%s-%s" % (name, how)] = run_es(y, fit_n, h, m, every)
    if not seasons:
        models["es-none-fixed"] = run_es(y, fit_n, h, 0, 0)
    if seasons:
        models["stl-holt"] = run_stl(y, fit_n, h, seasons[0][1])
    for name, (out, half) in models.items():
        rows[name] = score(y, step, fit_n, h, scale, out, half)
    # the same points: seasonal-naive here and in C must agree
    rows["seasonal-naive"] = c["models"]["seasonal-naive"]
    info["naive_check"] = bool(abs(rows["seasonal-naive(py)"]["smape"]
                                   - rows["seasonal-naive"]["smape"]) < 1e-3)
    return info, rows


def fmt(v, digits=3):
    return "-" if v is None else ("%.*f" % (digits, v))


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    build, dirs = argv[1], [a for a in argv[2:] if not a.startswith("--")]
    binary = os.path.join(build, "bin", "bountyfleet-autoscaler")
    results = []
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(d, "*.csv"))):
            name = os.path.splitext(os.path.basename(path))[0]
            started = time.time()
            info, rows = evaluate(path, binary)
            info["seconds"] = round(time.time() - started, 1)
            for model, r in rows.items():
                print(json.dumps({"bench": "forecast", "trace": name, "model": model,
                                  **{k: r.get(k) for k in ("mase", "smape", "coverage")},
                                  **info}), flush=True)
            results.append((name, info, rows))
    if "--json-only" in argv:
        return 0
    print()
    print("| trace | step | scored (skipped) | model | MASE | sMAPE | coverage |")
    print("|---|---|---|---|---|---|---|")
    wins_sm = wins_base = 0
    for name, info, rows in results:
        sm = {k: v for k, v in rows.items() if k.startswith(("es-", "stl-"))}
        best = min(sm, key=lambda k: sm[k]["mase"]) if sm else None
        f = rows["forecast"]["mase"]
        wins_sm += best is None or f <= sm[best]["mase"]
        wins_base += (f < rows["seasonal-naive"]["mase"]
                      and f < rows["moving-average"]["mase"])
        for model, r in rows.items():
            if model == "seasonal-naive(py)":
                continue
            mark = " (best statsmodels)" if model == best else ""
            print("| %s | %gs | %d (%d) | %s%s | %s | %s | %s |" % (
                name, info["step_s"], info["scored"], info["skipped"], model, mark,
                fmt(r["mase"]), fmt(r["smape"]), fmt(r["coverage"], 2)))
    print()
    print("forecast MASE <= best statsmodels on %d of %d traces; below both "
          "seasonal-naive and the moving average on %d of %d"
          % (wins_sm, len(results), wins_base, len(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
