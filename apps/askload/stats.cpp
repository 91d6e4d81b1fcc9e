#include "apps/askload/stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "core/json.hpp"

namespace askload {
namespace {

using askd::core::json::format_number;
using askd::core::json::quote;

std::string fixed(double v, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Whether `small` is `big` with characters left out.
bool is_subsequence(std::string_view small, std::string_view big) {
  std::size_t at = 0;
  for (char c : big)
    if (at < small.size() && small[at] == c) ++at;
  return at == small.size();
}

struct outcome_counts {
  std::map<std::string, int> by_class;
  std::map<std::string, int> by_verdict;
  int ok = 0, failed = 0;
};

outcome_counts count(const run_data& d) {
  outcome_counts c;
  for (const auto& s : d.streams) {
    if (!s.finished) continue;
    ++c.by_class[std::string(askd::client::name(s.what))];
    (s.what == askd::client::outcome::ok ? c.ok : c.failed)++;
    if (s.check != verdict::none) ++c.by_verdict[std::string(name(s.check))];
  }
  return c;
}

struct metric {
  const char* name;
  distribution dist;
};

std::vector<metric> metrics(const run_data& d) {
  return {{"connect", distribution_of(values_of(d.streams, &stream_record::connect_ms))},
          {"first byte", distribution_of(values_of(d.streams, &stream_record::ttfb_ms))},
          {"first token", distribution_of(values_of(d.streams, &stream_record::ttft_ms))},
          {"chunk gap", distribution_of(d.gaps)},
          {"max gap/stream", distribution_of(values_of(d.streams, &stream_record::max_gap_ms))},
          {"total", distribution_of(values_of(d.streams, &stream_record::total_ms))}};
}

std::uint64_t total_bytes(const run_data& d) {
  std::uint64_t b = 0;
  for (const auto& s : d.streams) b += s.bytes;
  return b;
}

// ---- SVG charts ----------------------------------------------------------------------

struct series {
  std::string name, color;
  std::vector<std::pair<double, double>> points;
};

// Round tick steps (1, 2, 5 x 10^k) covering [0, hi].
double tick_step(double hi, int want = 5) {
  if (hi <= 0) return 1;
  double raw = hi / want, mag = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

std::string esc(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

// One chart: lines (or bars when `bars`) over shared axes starting at 0.
std::string chart(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                  const std::vector<series>& all, bool bars = false) {
  const double W = 560, H = 300, L = 60, R = 20, T = 30, B = 45;
  double xmax = 0, ymax = 0;
  for (const auto& s : all)
    for (auto [x, y] : s.points) xmax = std::max(xmax, x), ymax = std::max(ymax, y);
  if (xmax <= 0) xmax = 1;
  if (ymax <= 0) ymax = 1;
  double xs = tick_step(xmax), ys = tick_step(ymax);
  xmax = std::ceil(xmax / xs) * xs;
  ymax = std::ceil(ymax / ys) * ys;
  auto px = [&](double x) { return L + (W - L - R) * x / xmax; };
  auto py = [&](double y) { return H - B - (H - T - B) * y / ymax; };
  std::string o = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fixed(W, 0) +
                  "\" height=\"" + fixed(H, 0) + "\" font-family=\"sans-serif\" font-size=\"11\">";
  o += "<text x=\"" + fixed(L, 0) + "\" y=\"18\" font-size=\"13\" font-weight=\"bold\">" +
       esc(title) + "</text>";
  for (double y = 0; y <= ymax + ys / 2; y += ys) {
    o += "<line x1=\"" + fixed(L) + "\" x2=\"" + fixed(W - R) + "\" y1=\"" + fixed(py(y)) +
         "\" y2=\"" + fixed(py(y)) + "\" stroke=\"#ddd\"/>";
    o += "<text x=\"" + fixed(L - 4) + "\" y=\"" + fixed(py(y) + 4) + "\" text-anchor=\"end\">" +
         format_number(y) + "</text>";
  }
  for (double x = 0; x <= xmax + xs / 2; x += xs) {
    o += "<line x1=\"" + fixed(px(x)) + "\" x2=\"" + fixed(px(x)) + "\" y1=\"" + fixed(H - B) +
         "\" y2=\"" + fixed(H - B + 4) + "\" stroke=\"#333\"/>";
    o += "<text x=\"" + fixed(px(x)) + "\" y=\"" + fixed(H - B + 16) +
         "\" text-anchor=\"middle\">" + format_number(x) + "</text>";
  }
  o += "<line x1=\"" + fixed(L) + "\" x2=\"" + fixed(W - R) + "\" y1=\"" + fixed(H - B) +
       "\" y2=\"" + fixed(H - B) + "\" stroke=\"#333\"/>";
  o += "<text x=\"" + fixed((L + W - R) / 2) + "\" y=\"" + fixed(H - 8) +
       "\" text-anchor=\"middle\">" + esc(xlabel) + "</text>";
  o += "<text transform=\"translate(14," + fixed((T + H - B) / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">" + esc(ylabel) + "</text>";
  double legend_x = L + 10;
  for (const auto& s : all) {
    if (bars && s.points.size() > 1) {
      double w = std::max(1.0, px(s.points[1].first) - px(s.points[0].first) - 1);
      for (auto [x, y] : s.points)
        o += "<rect x=\"" + fixed(px(x)) + "\" y=\"" + fixed(py(y)) + "\" width=\"" + fixed(w) +
             "\" height=\"" + fixed(H - B - py(y)) + "\" fill=\"" + s.color + "\"/>";
    } else if (!s.points.empty()) {
      o += "<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"" + s.color + "\" points=\"";
      for (auto [x, y] : s.points) o += fixed(px(x)) + "," + fixed(py(y)) + " ";
      o += "\"/>";
    }
    o += "<rect x=\"" + fixed(legend_x) + "\" y=\"" + fixed(T) +
         "\" width=\"10\" height=\"10\" fill=\"" + s.color + "\"/><text x=\"" +
         fixed(legend_x + 14) + "\" y=\"" + fixed(T + 9) + "\">" + esc(s.name) + "</text>";
    legend_x += 30 + 7.5 * static_cast<double>(s.name.size());
  }
  return o + "</svg>";
}

// Histogram (count per bin) and CDF (% at or below) of `values`, in ms.
std::string histogram_and_cdf(const std::string& what, std::vector<float> values) {
  if (values.empty()) return "<p>No " + esc(what) + " was measured (no stream got that far).</p>";
  std::sort(values.begin(), values.end());
  // Bins up to the 99.9th percentile so one straggler does not flatten the rest.
  double hi = values[std::min(values.size() - 1, values.size() * 999 / 1000)];
  if (hi <= 0) hi = 1;
  const int bins = 40;
  double width = hi / bins;
  std::vector<double> counts(bins, 0);
  for (float v : values) counts[static_cast<int>(std::min<double>(bins - 1, v / width))] += 1;
  series h{"streams", "#4e79a7", {}};
  for (int i = 0; i < bins; ++i) h.points.emplace_back(i * width, counts[i]);
  series cdf{"% of streams at or below", "#e15759", {}};
  std::size_t step = std::max<std::size_t>(1, values.size() / 400);
  for (std::size_t i = 0; i < values.size(); i += step)
    cdf.points.emplace_back(values[i], 100.0 * (i + 1) / values.size());
  cdf.points.emplace_back(values.back(), 100.0);
  return chart(what + ": histogram", what + " (ms)", "streams", {h}, true) +
         chart(what + ": CDF", what + " (ms)", "% of streams", {cdf});
}

}  // namespace

std::string_view name(verdict v) {
  switch (v) {
    case verdict::none:
      return "unverified";
    case verdict::exact:
      return "exact";
    case verdict::lost:
      return "lost";
    case verdict::duplicated:
      return "duplicated";
    case verdict::corrupted:
      return "corrupted";
  }
  return "?";
}

verdict compare(std::string_view expected, std::string_view got) {
  if (got == expected) return verdict::exact;
  if (got.size() < expected.size() && is_subsequence(got, expected)) return verdict::lost;
  if (got.size() > expected.size() && is_subsequence(expected, got)) return verdict::duplicated;
  return verdict::corrupted;
}

distribution distribution_of(std::vector<float> v) {
  distribution d;
  d.n = v.size();
  if (v.empty()) return d;
  // Selection, not a sort: the progress line computes this every second over every stream.
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  d.min = *lo;
  d.max = *hi;
  d.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  // Nearest rank: the smallest value with at least q of the samples at or below it. Asked
  // in increasing order, each selection only looks right of the previous one.
  auto from = v.begin();
  auto at = [&](double q) {
    auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    auto nth =
        v.begin() + static_cast<std::ptrdiff_t>(std::clamp<std::size_t>(rank, 1, v.size()) - 1);
    std::nth_element(from, nth, v.end());
    from = nth;
    return *nth;
  };
  d.p50 = at(0.50);
  d.p90 = at(0.90);
  d.p99 = at(0.99);
  return d;
}

std::vector<float> values_of(const std::vector<stream_record>& s, float stream_record::*field) {
  std::vector<float> out;
  out.reserve(s.size());
  for (const auto& r : s)
    if (r.*field >= 0) out.push_back(r.*field);
  return out;
}

std::string summary_text(const run_data& d) {
  auto c = count(d);
  std::string o;
  o += "target   " + d.info.target + " " + d.info.url + "\n";
  o += "load     " + d.info.mode + "; ran " + fixed(d.info.elapsed_s, 2) + " s\n";
  double secs = std::max(d.info.elapsed_s, 1e-9);
  o += "streams  " + std::to_string(c.ok + c.failed) + " ended: " + std::to_string(c.ok) + " ok, " +
       std::to_string(c.failed) + " failed; " + fixed(c.ok / secs) + " ok/s, " +
       fixed(total_bytes(d) / secs / 1024.0) + " KiB/s of text";
  if (d.info.skipped) o += "; " + std::to_string(d.info.skipped) + " not started (connection cap)";
  o += "\n";
  if (c.failed) {
    o += "failed   ";
    for (const auto& [k, n] : c.by_class)
      if (k != "ok") o += k + " " + std::to_string(n) + "  ";
    o += "\n";
    for (const auto& [k, m] : d.first_error) o += "         first " + k + ": " + m + "\n";
  }
  if (!c.by_verdict.empty()) {
    o += "verify   ";
    for (const auto& v : {verdict::exact, verdict::lost, verdict::duplicated, verdict::corrupted}) {
      auto it = c.by_verdict.find(std::string(name(v)));
      o += std::string(name(v)) + " " + std::to_string(it == c.by_verdict.end() ? 0 : it->second) +
           "  ";
    }
    o += "\n";
  }
  o += "\n";
  char line[160];
  std::snprintf(line, sizeof line, "%-15s %9s %9s %9s %9s %9s %9s %9s\n", "ms", "n", "min", "mean",
                "p50", "p90", "p99", "max");
  o += line;
  for (const auto& m : metrics(d)) {
    const auto& x = m.dist;
    std::snprintf(line, sizeof line, "%-15s %9zu %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n", m.name,
                  x.n, x.min, x.mean, x.p50, x.p90, x.p99, x.max);
    o += line;
  }
  return o;
}

std::string summary_json(const run_data& d) {
  auto c = count(d);
  std::string o =
      "{\"target\":" + quote(d.info.target) + ",\"url\":" + quote(d.info.url) +
      ",\"mode\":" + quote(d.info.mode) + ",\"elapsed_s\":" + format_number(d.info.elapsed_s) +
      ",\"streams\":" + std::to_string(c.ok + c.failed) + ",\"ok\":" + std::to_string(c.ok) +
      ",\"failed\":" + std::to_string(c.failed) + ",\"skipped\":" + std::to_string(d.info.skipped) +
      ",\"bytes\":" + std::to_string(total_bytes(d));
  auto object = [](const std::map<std::string, int>& m) {
    std::string s = "{";
    for (const auto& [k, n] : m)
      s += (s.size() > 1 ? "," : "") + quote(k) + ":" + std::to_string(n);
    return s + "}";
  };
  o += ",\"outcomes\":" + object(c.by_class) + ",\"verify\":" + object(c.by_verdict);
  o += ",\"first_error\":{";
  bool first = true;
  for (const auto& [k, m] : d.first_error) {
    o += (first ? "" : ",") + quote(k) + ":" + quote(m);
    first = false;
  }
  o += "},\"ms\":{";
  first = true;
  for (const auto& m : metrics(d)) {
    std::string key = m.name;
    std::replace(key.begin(), key.end(), ' ', '_');
    std::replace(key.begin(), key.end(), '/', '_');
    const auto& x = m.dist;
    o += (first ? "" : ",") + quote(key) + ":{\"n\":" + std::to_string(x.n) +
         ",\"min\":" + format_number(x.min) + ",\"mean\":" + format_number(x.mean) +
         ",\"p50\":" + format_number(x.p50) + ",\"p90\":" + format_number(x.p90) +
         ",\"p99\":" + format_number(x.p99) + ",\"max\":" + format_number(x.max) + "}";
    first = false;
  }
  o += "},\"timeline\":[";
  for (std::size_t i = 0; i < d.timeline.size(); ++i) {
    const auto& t = d.timeline[i];
    o += (i ? "," : "") + std::string("{\"second\":") + std::to_string(i) +
         ",\"started\":" + std::to_string(t.started) + ",\"done\":" + std::to_string(t.done) +
         ",\"failed\":" + std::to_string(t.failed) +
         ",\"in_flight\":" + std::to_string(t.in_flight) + ",\"errors\":" + object(t.errors) + "}";
  }
  return o + "]}\n";
}

std::string html_report(const run_data& d) {
  auto c = count(d);
  std::string o =
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>askload report</title><style>"
      "body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}"
      "td:first-child,th:first-child{text-align:left}svg{margin:8px 16px 8px 0;border:1px solid "
      "#eee}"
      "</style></head><body><h1>askload report</h1>";
  o += "<p><b>Target</b> " + esc(d.info.target) + " " + esc(d.info.url) + "<br><b>Load</b> " +
       esc(d.info.mode) + "; ran " + fixed(d.info.elapsed_s, 2) + " s<br><b>Streams</b> " +
       std::to_string(c.ok + c.failed) + " ended: " + std::to_string(c.ok) + " ok, " +
       std::to_string(c.failed) + " failed";
  if (d.info.skipped) o += ", " + std::to_string(d.info.skipped) + " not started (connection cap)";
  o += "</p>";
  if (c.failed || !c.by_verdict.empty()) {
    o += "<table><tr><th>outcome</th><th>streams</th><th>first message</th></tr>";
    for (const auto& [k, n] : c.by_class) {
      auto it = d.first_error.find(k);
      o += "<tr><td>" + esc(k) + "</td><td>" + std::to_string(n) +
           "</td><td style=\"text-align:left\">" +
           (it == d.first_error.end() ? "" : esc(it->second)) + "</td></tr>";
    }
    for (const auto& [k, n] : c.by_verdict)
      o += "<tr><td>verify: " + esc(k) + "</td><td>" + std::to_string(n) + "</td><td></td></tr>";
    o += "</table>";
  }
  o += "<h2>Latency (ms)</h2><table><tr><th></th><th>n</th><th>min</th><th>mean</th><th>p50</th>"
       "<th>p90</th><th>p99</th><th>max</th></tr>";
  for (const auto& m : metrics(d)) {
    const auto& x = m.dist;
    o += "<tr><td>" + std::string(m.name) + "</td><td>" + std::to_string(x.n) + "</td><td>" +
         fixed(x.min, 2) + "</td><td>" + fixed(x.mean, 2) + "</td><td>" + fixed(x.p50, 2) +
         "</td><td>" + fixed(x.p90, 2) + "</td><td>" + fixed(x.p99, 2) + "</td><td>" +
         fixed(x.max, 2) + "</td></tr>";
  }
  o += "</table><h2>Time to first token</h2>" +
       histogram_and_cdf("time to first token", values_of(d.streams, &stream_record::ttft_ms)) +
       "<h2>Total time</h2>" +
       histogram_and_cdf("total time", values_of(d.streams, &stream_record::total_ms));

  series done{"done/s", "#59a14f", {}}, failed{"failed/s", "#e15759", {}},
      flight{"in flight", "#4e79a7", {}};
  const char* palette[] = {"#e15759", "#f28e2b", "#b07aa1", "#76b7b2",
                           "#edc948", "#9c755f", "#bab0ac"};
  std::vector<series> error_series;  // one per failure class the run saw
  for (const auto& [cls, n] : c.by_class)
    if (cls != "ok") error_series.push_back({cls, palette[error_series.size() % 7], {}});
  for (std::size_t i = 0; i < d.timeline.size(); ++i) {
    const auto& t = d.timeline[i];
    double x = static_cast<double>(i);
    done.points.emplace_back(x, t.done);
    failed.points.emplace_back(x, t.failed);
    flight.points.emplace_back(x, t.in_flight);
    for (auto& s : error_series) {
      auto it = t.errors.find(s.name);
      s.points.emplace_back(x, it == t.errors.end() ? 0 : it->second);
    }
  }
  o += "<h2>Over time</h2>" +
       chart("Throughput", "seconds", "streams ended per second", {done, failed}) +
       chart("In flight", "seconds", "streams open", {flight});
  o += error_series.empty() ? std::string("<p>No errors.</p>")
                            : chart("Errors", "seconds", "streams failed per second", error_series);
  return o + "</body></html>\n";
}

}  // namespace askload
