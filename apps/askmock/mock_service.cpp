#include "apps/askmock/mock_service.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <chrono>

#include "core/json.hpp"

namespace askmock {
namespace json = askd::core::json;
using askd::net::header_list;
using askd::net::request;
using askd::net::response;

namespace {

constexpr const char* json_type = "application/json";

// Multi-byte words on purpose: a split in the middle of a character must never show.
constexpr const char* vocabulary[] = {
    "the",     "stream", "actor",  "retrieves", "context", "from",  "naïve", "index",
    "chunks",  "日本語", "answer", "over",      "sockets", "while", "each",  "token",
    "arrives", "in",     "order",  "—",         "and",     "none",  "is",    "lost"};

header_list mock_headers() {
  return {{"Cache-Control", "no-cache"}, {"X-Request-Id", "req_askmock"}};
}

// The scripted answer (echo aside): `text`, else `deltas` or `words` default words.
std::string answer_of(const directive& d) {
  return d.has_text ? d.text : default_text(d.deltas > 0 ? d.deltas : d.words);
}

void merge(directive& d, const rapidjson::Value& v, const std::string& where) {
  json::object_reader r(v, where);
  if (auto s = r.string("text")) d.text = *s, d.has_text = true;
  if (auto n = r.integer("words", 0, 1000000)) d.words = static_cast<int>(*n);
  if (auto n = r.integer("deltas", 1, 1000000)) d.deltas = static_cast<int>(*n);
  if (auto n = r.integer("chunk", 1, 1 << 20)) d.chunk = static_cast<std::size_t>(*n);
  if (auto n = r.integer("first_ms", 0, 3600000)) d.first_ms = static_cast<int>(*n);
  if (auto n = r.integer("gap_ms", 0, 3600000)) d.gap_ms = static_cast<int>(*n);
  if (auto n = r.integer("trickle_us", 0, 1000000)) d.trickle_us = static_cast<int>(*n);
  if (auto s = r.string("fault")) {
    if (*s != "status" && *s != "cut" && *s != "stall" && *s != "malformed" &&
        *s != "error_event" && *s != "nested" && !s->empty())
      throw json::field_error(r.path_of("fault"),
                              "status, cut, stall, malformed, error_event or nested",
                              json::quote(*s));
    d.fault = *s;
  }
  if (auto n = r.integer("status", 100, 599)) d.status = static_cast<int>(*n);
  if (auto n = r.integer("after", 0, 1000000)) d.after = static_cast<int>(*n);
  if (auto n = r.integer("retry_after", 0, 3600)) d.retry_after = static_cast<int>(*n);
  if (auto n = r.integer("fail_first", 0, 1000000)) d.fail_first = static_cast<int>(*n);
  if (auto s = r.string("key")) d.key = *s;
  if (auto b = r.boolean("echo")) d.echo = *b;
  if (auto n = r.integer("overlap", 0, 1 << 20)) d.overlap = static_cast<int>(*n);
  if (const auto* leads = r.array("research")) {
    d.has_research = true;
    d.research.clear();
    for (const auto& lead : leads->GetArray()) {
      if (!lead.IsString())
        throw json::field_error(r.path_of("research"), "an array of strings", "another type");
      d.research.emplace_back(lead.GetString(), lead.GetStringLength());
    }
  }
  if (auto n = r.integer("fault_round", 0, 100)) d.fault_round = static_cast<int>(*n);
  if (auto b = r.boolean("heading")) d.heading = *b;
}

// `#mock{...}` inside a message: the JSON object right after the marker.
void merge_from_text(directive& d, const std::string& text) {
  auto at = text.rfind("#mock{");
  if (at == std::string::npos) return;
  rapidjson::Document doc;
  auto parsed = json::parse_into<rapidjson::kParseStopWhenDoneFlag>(text.substr(at + 5), doc);
  if (!parsed)
    throw json::syntax_error(
        std::string("#mock: ") +
        (parsed.too_deep ? "nested too deep" : rapidjson::GetParseError_En(parsed.code)));
  merge(d, doc, "#mock");
}

// Which turns script the answer: the last user message carrying a #mock directive (else
// the last user message), and an assistant message after it, the partial answer to
// continue (only after a scripted message: other assistant turns are history).
struct script_turns {
  std::string last_user;
  std::optional<std::string> partial;
};
// askd's request to go on with a cut-off answer (actors/call_supervisor.cpp): the whole
// message (a question whose context quotes it is no such request).
bool asks_to_continue(const std::string& text) {
  return text.rfind("Your previous answer was cut off.", 0) == 0;
}

script_turns script_turns_of(const std::vector<chat_turn>& turns) {
  script_turns t;
  bool marked = false;
  for (const auto& m : turns) {
    if (m.role == "user" && (!marked || m.content.find("#mock{") != std::string::npos)) {
      marked = m.content.find("#mock{") != std::string::npos;
      t.last_user = m.content;
      t.partial.reset();
    } else if (m.role == "user" && !asks_to_continue(m.content)) {
      t.partial.reset();  // the assistant turn before was answered: history, not a partial
    } else if (m.role == "assistant") {
      t.partial = m.content;
    }
  }
  if (!marked) t.partial.reset();
  return t;
}

// The text between `open` and the next `close` in `s`, "" without it.
std::string between(const std::string& s, std::string_view open, std::string_view close) {
  auto a = s.find(open);
  if (a == std::string::npos) return {};
  a += open.size();
  auto b = s.find(close, a);
  return b == std::string::npos ? std::string() : s.substr(a, b - a);
}

const chat_turn* system_turn(const std::vector<chat_turn>& turns) {
  for (const auto& t : turns)
    if (t.role == "system") return &t;
  return nullptr;
}

// One stream being sent: the pieces of the body in order, sent on the connection's
// strand with the directive's pacing, and a fault applied at its point.
class playback : public std::enable_shared_from_this<playback> {
 public:
  playback(std::shared_ptr<response> res, mock_service::counters& stats, directive d,
           const wire_format& format, std::vector<std::string> pieces,
           std::optional<std::size_t> fault_at)
      : res_(std::move(res)),
        stats_(stats),
        d_(std::move(d)),
        format_(format),
        pieces_(std::move(pieces)),
        fault_at_(fault_at) {}

  void start() {
    auto now = ++stats_.active;
    for (auto peak = stats_.peak_active.load(); now > peak;)
      if (stats_.peak_active.compare_exchange_weak(peak, now)) break;
    res_->on_disconnect([self = shared_from_this()] {
      if (self->over_) return;
      self->over_ = true;
      --self->stats_.active;
      ++self->stats_.disconnects;
    });
    res_->start(200, with_type());
    next();
  }

 private:
  header_list with_type() {
    auto h = mock_headers();
    h.emplace_back("Content-Type", format_.content_type());
    return h;
  }

  // Delay before piece i. The head goes at once (OpenAI's role chunk, Anthropic's
  // message_start...); the first answer delta waits first_ms, each later one gap_ms; the
  // tail follows the last delta.
  int delay_ms(std::size_t i) const {
    if (i < head_ || i >= deltas_end()) return 0;
    return i == head_ ? d_.first_ms : d_.gap_ms;
  }
  std::size_t deltas_end() const { return pieces_.size() - tail_; }

  void later(std::chrono::microseconds us) {
    res_->after(us, [self = shared_from_this()] { self->next(); });
  }

  void next() {
    if (over_) return;
    while (i_ < pieces_.size()) {
      if (offset_ == 0) {
        if (fault_at_ && i_ == *fault_at_) return fault();
        if (!waited_ && delay_ms(i_) > 0) {
          waited_ = true;
          return later(std::chrono::milliseconds(delay_ms(i_)));
        }
        waited_ = false;
      }
      if (d_.trickle_us > 0) {
        res_->write(pieces_[i_].substr(offset_, 1));
        if (++offset_ == pieces_[i_].size()) offset_ = 0, ++i_;
        return later(std::chrono::microseconds(d_.trickle_us));
      }
      res_->write(std::move(pieces_[i_++]));
    }
    if (fault_at_ && *fault_at_ >= pieces_.size()) return fault();
    end(true);
  }

  void fault() {
    if (d_.fault == "cut") {
      res_->abort();
      return end(false);
    }
    if (d_.fault == "stall") return;  // silent until the client leaves
    if (d_.fault == "malformed") res_->write(format_.malformed());
    if (d_.fault == "error_event") res_->write(format_.error_event());
    if (d_.fault == "nested") res_->write(format_.nested());
    res_->finish();
    end(false);
  }

  void end(bool completed) {
    if (over_) return;
    over_ = true;
    --stats_.active;
    if (completed) {
      ++stats_.completed;
      res_->finish();
    }
  }

 public:
  std::size_t head_ = 0;  // pieces before the first delta
  std::size_t tail_ = 0;  // pieces after the last delta (finish, usage, [DONE])

 private:
  std::shared_ptr<response> res_;
  mock_service::counters& stats_;
  directive d_;
  const wire_format& format_;
  std::vector<std::string> pieces_;
  std::optional<std::size_t> fault_at_;
  std::size_t i_ = 0;
  std::size_t offset_ = 0;
  bool waited_ = false;
  bool over_ = false;
};

}  // namespace

std::string default_text(int words) {
  std::string s;
  constexpr std::size_t n = std::size(vocabulary);
  for (int i = 0; i < words; ++i) {
    if (i) s += ' ';
    s += vocabulary[(static_cast<std::size_t>(i) * 7 + static_cast<std::size_t>(i) / n) % n];
  }
  if (words > 0) s += '.';
  return s;
}

std::vector<std::string> split_deltas(const std::string& text, std::size_t chunk) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t end = std::min(text.size(), i + chunk);
    // Back off continuation bytes so no character is split; keep at least one character.
    while (end < text.size() && end > i && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
      --end;
    if (end == i) {
      end = i + 1;
      while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    }
    out.push_back(text.substr(i, end - i));
    i = end;
  }
  return out;
}

int research_round_of(const std::vector<chat_turn>& turns) {
  const auto* system = system_turn(turns);
  if (!system) return 0;
  auto n = between(system->content, "This is round ", " of a deep research");
  return n.empty() ? 0 : std::atoi(n.c_str());
}

std::optional<std::string> research_answer(const std::vector<chat_turn>& turns,
                                           const std::vector<std::string>& leads,
                                           bool always_heading) {
  int round = research_round_of(turns);
  if (round <= 0) return std::nullopt;
  const auto& system = system_turn(turns)->content;
  auto topic = between(system, " rounds) into: ", "\n");
  auto heading = between(system, "the heading \"", "\"");
  bool written = system.find("\", already written") != std::string::npos;
  std::string kind = heading.find("Plan") != std::string::npos     ? "plan"
                     : heading.find("Update") != std::string::npos ? "update"
                                                                   : "conclusion";
  // The files of the round's context: in its question, not in a request to go on.
  std::string files;
  for (auto it = turns.rbegin(); it != turns.rend(); ++it) {
    if (it->role != "user" || asks_to_continue(it->content)) continue;
    for (std::size_t at = it->content.find("## File: "); at != std::string::npos;
         at = it->content.find("## File: ", at + 1)) {
      auto end = it->content.find('\n', at);
      files += (files.empty() ? "`" : ", `") + it->content.substr(at + 9, end - at - 9) + "`";
    }
    break;
  }
  std::string text = written && !always_heading ? "" : heading + "\n\n";
  text += "Round " + std::to_string(round) + " (" + kind + ") of the research into: " + topic +
          "\n\nRead: " + (files.empty() ? "no context" : files) + ".\n\n";
  if (kind == "conclusion")
    text += "Concluded after " + std::to_string(round) + " rounds.";
  else
    text += "Next: " + (static_cast<std::size_t>(round) <= leads.size() ? leads[round - 1]
                                                                        : std::string("nothing"));
  return text;
}

std::optional<std::string> scripted_answer(std::string_view request_body) {
  directive d;
  try {
    rapidjson::Document doc;
    json::parse(request_body, doc);
    auto message =
        script_turns_of(turns_of(json::object_reader(doc, "").array("messages"))).last_user;
    if (message.find("#mock{") == std::string::npos) return std::nullopt;
    merge_from_text(d, message);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (d.echo || d.has_research) return std::nullopt;
  return answer_of(d);
}

mock_service::mock_service(mock_options options) : options_(std::move(options)) {}

askd::net::upgrade_decision mock_service::upgrade(const request&) {
  return {};
}

void mock_service::handle(request req, std::shared_ptr<response> res) {
  if (const auto* format = format_for(req.path)) {
    if (req.method != "POST")
      return res->send(405, json_type, format->bad_request_body("use POST"), {{"Allow", "POST"}});
    return chat(req, res, *format);
  }
  if (is_embeddings_path(req.path)) {
    std::lock_guard lock(mu_);
    return answer_embeddings(req, *res, options_.require_key, options_.embed_max_input_bytes,
                             embed_stats_);
  }
  if (req.path == "/_mock/stats") return res->send(200, json_type, stats_json());
  if (req.path == "/_mock/last") {
    std::lock_guard lock(mu_);
    return res->send(200, json_type,
                     "{\"body\":" + json::quote(last_body_) +
                         ",\"authorization\":" + json::quote(last_authorization_) +
                         ",\"target\":" + json::quote(last_target_) + "}");
  }
  if (req.path == "/health") return res->send(200, json_type, "{\"status\":\"ok\"}");
  res->send(404, json_type,
            "{\"error\":{\"message\":" + json::quote("askmock: no route " + req.path) + "}}");
}

std::string mock_service::stats_json() const {
  return "{\"requests\":" + std::to_string(stats_.requests.load()) +
         ",\"active\":" + std::to_string(stats_.active.load()) +
         ",\"peak_active\":" + std::to_string(stats_.peak_active.load()) +
         ",\"completed\":" + std::to_string(stats_.completed.load()) +
         ",\"faults\":" + std::to_string(stats_.faults.load()) +
         ",\"disconnects\":" + std::to_string(stats_.disconnects.load()) +
         ",\"continuations\":" + std::to_string(stats_.continuations.load()) + "}";
}

std::string mock_service::last_body() const {
  std::lock_guard lock(mu_);
  return last_body_;
}

std::string mock_service::last_authorization() const {
  std::lock_guard lock(mu_);
  return last_authorization_;
}

embed_stats mock_service::embeddings() const {
  std::lock_guard lock(mu_);
  return embed_stats_;
}

std::string mock_service::last_target() const {
  std::lock_guard lock(mu_);
  return last_target_;
}

std::string mock_service::last_header(std::string_view name) const {
  std::lock_guard lock(mu_);
  for (const auto& [n, v] : last_headers_)
    if (n == name) return v;
  return {};
}

bool mock_service::should_fault(const directive& d) {
  if (d.fault.empty()) return false;
  if (d.fail_first <= 0) return true;
  std::lock_guard lock(mu_);
  return fault_counts_[d.key]++ < d.fail_first;
}

void mock_service::chat(request& req, const std::shared_ptr<response>& res,
                        const wire_format& format) {
  ++stats_.requests;
  {
    std::lock_guard lock(mu_);
    last_body_ = req.body;
    last_authorization_ = std::string(req.header("authorization"));
    last_target_ = req.target;
    last_headers_ = req.headers;
  }
  if (!options_.require_key.empty() && !format.authorized(req, options_.require_key)) {
    ++stats_.faults;
    auto [status, body] = format.unauthorized();
    return res->send(status, json_type, std::move(body), mock_headers());
  }
  directive d;
  chat_call call;
  std::string last_user;
  std::optional<std::string> partial;
  try {
    call = format.parse(req);
    auto turns = script_turns_of(call.turns);
    last_user = std::move(turns.last_user);
    partial = std::move(turns.partial);
    merge_from_text(d, last_user);
    if (auto h = req.header("x-mock"); !h.empty()) {
      rapidjson::Document hd;
      json::parse(h, hd);
      merge(d, hd, "X-Mock");
    }
  } catch (const std::exception& e) {
    return res->send(400, json_type, format.bad_request_body(e.what()), mock_headers());
  }

  std::optional<std::string> research;
  if (d.has_research) research = research_answer(call.turns, d.research, d.heading);
  bool fault =
      (d.fault_round == 0 || research_round_of(call.turns) == d.fault_round) && should_fault(d);
  if (fault) ++stats_.faults;
  if (fault && d.fault == "status") {
    auto h = mock_headers();
    if (d.retry_after >= 0) h.emplace_back("Retry-After", std::to_string(d.retry_after));
    return res->send(d.status, json_type, format.error_body(d.status, call), std::move(h));
  }

  // The whole answer; a continuation sends what follows the partial answer (after
  // repeating `overlap` bytes of it, as models do).
  bool by_word = d.deltas > 0 && !d.echo && !d.has_text && !research;
  auto text = d.echo ? last_user : research ? *research : answer_of(d);
  if (partial) {
    if (text.compare(0, partial->size(), *partial) != 0)
      return res->send(
          400, json_type,
          format.bad_request_body(
              "the assistant message to continue is not the start of the scripted answer"),
          mock_headers());
    ++stats_.continuations;
    auto from = partial->size() - std::min<std::size_t>(partial->size(), d.overlap);
    text = text.substr(from);
  }
  std::vector<std::string> deltas;
  if (by_word) {
    // One word per delta, the space carried with the word before it.
    std::size_t at = 0;
    while (at < text.size()) {
      auto sp = text.find(' ', at);
      auto end = sp == std::string::npos ? text.size() : sp + 1;
      deltas.push_back(text.substr(at, end - at));
      at = end;
    }
  } else {
    deltas = split_deltas(text, d.chunk);
  }
  usage_counts usage{static_cast<std::int64_t>(req.body.size() / 4),
                     static_cast<std::int64_t>(deltas.size())};
  auto pieces = format.head(call, usage);
  auto head = pieces.size();
  pieces.reserve(head + deltas.size() + 4);
  for (const auto& t : deltas) pieces.push_back(format.delta(call, t));
  auto tail = format.tail(call, usage);
  pieces.insert(pieces.end(), std::make_move_iterator(tail.begin()),
                std::make_move_iterator(tail.end()));
  std::optional<std::size_t> fault_at;
  if (fault)
    fault_at = head + std::min<std::size_t>(static_cast<std::size_t>(d.after), deltas.size());
  auto p =
      std::make_shared<playback>(res, stats_, std::move(d), format, std::move(pieces), fault_at);
  p->head_ = head;
  p->tail_ = tail.size();
  p->start();
}

}  // namespace askmock
