// ask — the terminal client: streams askd's answer to a question about a repository as
// it is generated. WebSocket first, HTTP when the socket cannot open; retries and
// resumes as net/client.hpp says. Several questions (or --chat) make one conversation.
#include <signal.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "core/json.hpp"
#include "net/client.hpp"

namespace {

namespace client = askd::client;

constexpr const char* usage =
    "usage: ask [options] \"question\" [\"follow-up\" ...]\n"
    "  --server URL       askd's address (default $ASKD_SERVER or http://127.0.0.1:8001)\n"
    "  --repo PATH|URL    the repository (default: the current directory)\n"
    "  --provider P       a provider id from the server's /models/config\n"
    "  --model M          a model of that provider\n"
    "  --deep             deep research (several rounds)\n"
    "  --retrieval MODE   bm25 (default), vector, hybrid, or none (ask the model alone)\n"
    "  --chat             ask, then keep reading follow-up questions from stdin\n"
    "  --face compat|v1   which protocol (default v1: typed events, resumable)\n"
    "  --http | --ws      use only this transport (default: WebSocket, HTTP when it fails)\n"
    "  --ws-timeout MS    how long the WebSocket may take to open (default 1000)\n"
    "  --api-key KEY      sent as a Bearer token (default $ASKD_API_KEY)\n"
    "  --no-retry         fail at the first network error instead of retrying 1 s, 2 s, 4 s\n"
    "  -v, --verbose      progress, sources, retries and timings on stderr\n"
    "exit codes: 0 answered, 1 the server failed mid-answer, 2 usage, 3 bad request,\n"
    "  4 unauthorized or forbidden, 5 server busy (429/503), 6 cannot reach the server or\n"
    "  the connection broke, 7 the reply was not in the protocol, 130 interrupted\n";

[[noreturn]] void die_usage(const std::string& msg) {
  std::fprintf(stderr, "ask: %s\n%s", msg.c_str(), usage);
  std::exit(2);
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

int exit_code(client::outcome o) {
  switch (o) {
    case client::outcome::ok:
      return 0;
    case client::outcome::server_error:
      return 1;
    case client::outcome::bad_request:
      return 3;
    case client::outcome::unauthorized:
    case client::outcome::forbidden:
      return 4;
    case client::outcome::refused:
      return 5;
    case client::outcome::network:
    case client::outcome::timeout:
      return 6;
    case client::outcome::protocol:
      return 7;
    case client::outcome::cancelled:
      return 130;
  }
  return 1;
}

struct settings {
  client::server server;
  client::options opts;
  std::string repo = ".";
  std::string provider, model, retrieval;
  bool deep = false, chat = false, verbose = false;
  std::vector<std::string> questions;
};

settings parse_args(int argc, char** argv) {
  settings s;
  std::string server_url = env("ASKD_SERVER");
  std::string api_key = env("ASKD_API_KEY");
  s.opts.kind = client::face::v1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die_usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else if (a == "--server") {
      server_url = value();
    } else if (a == "--repo") {
      s.repo = value();
    } else if (a == "--provider") {
      s.provider = value();
    } else if (a == "--model") {
      s.model = value();
    } else if (a == "--retrieval") {
      s.retrieval = value();
    } else if (a == "--deep") {
      s.deep = true;
    } else if (a == "--chat") {
      s.chat = true;
    } else if (a == "--face") {
      auto f = value();
      if (f == "compat")
        s.opts.kind = client::face::compat;
      else if (f == "v1")
        s.opts.kind = client::face::v1;
      else
        die_usage("--face: expected compat or v1, got \"" + f + "\"");
    } else if (a == "--http") {
      s.opts.via = client::transport::http;
    } else if (a == "--ws") {
      s.opts.via = client::transport::websocket;
    } else if (a == "--ws-timeout") {
      auto n = askd::core::json::parse_count(value());
      if (!n || *n == 0 || *n > 600000)
        die_usage("--ws-timeout: expected milliseconds, 1 to 600000");
      s.opts.ws_open_timeout = std::chrono::milliseconds(*n);
    } else if (a == "--api-key") {
      api_key = value();
    } else if (a == "--no-retry") {
      s.opts.backoff.clear();
    } else if (a == "-v" || a == "--verbose") {
      s.verbose = true;
    } else if (a.starts_with("-") && a.size() > 1) {
      die_usage("unknown option " + a);
    } else {
      s.questions.push_back(a);
    }
  }
  if (s.questions.empty() && !s.chat) die_usage("no question");
  try {
    s.server = client::parse_server(server_url.empty() ? "http://127.0.0.1:8001" : server_url);
  } catch (const std::invalid_argument& e) {
    die_usage(std::string("--server: ") + e.what());
  }
  s.server.api_key = api_key;
  return s;
}

// repo_url and type for the request: a URL as given, else a local path made absolute.
std::string repo_fields(const std::string& repo) {
  std::string url = repo, type = "local";
  if (repo.find("://") != std::string::npos || repo.starts_with("git@")) {
    type = repo.find("gitlab") != std::string::npos      ? "gitlab"
           : repo.find("bitbucket") != std::string::npos ? "bitbucket"
                                                         : "github";
  } else {
    std::error_code ec;
    auto abs = std::filesystem::canonical(repo, ec);
    if (ec) {
      std::fprintf(stderr, "ask: --repo %s: %s\n", repo.c_str(), ec.message().c_str());
      std::exit(2);
    }
    url = abs.string();
  }
  return "\"repo_url\":" + askd::core::json::quote(url) +
         ",\"type\":" + askd::core::json::quote(type);
}

struct turn {
  std::string role, content;
};

std::string request_body(const settings& s, const std::vector<turn>& history) {
  std::string body = "{" + repo_fields(s.repo);
  if (!s.provider.empty()) body += ",\"provider\":" + askd::core::json::quote(s.provider);
  if (!s.model.empty()) body += ",\"model\":" + askd::core::json::quote(s.model);
  if (s.deep) body += ",\"deep_research\":true";
  if (!s.retrieval.empty())
    body += ",\"retrieval\":{\"mode\":" + askd::core::json::quote(s.retrieval) + "}";
  body += ",\"messages\":[";
  for (std::size_t i = 0; i < history.size(); ++i) {
    if (i) body += ',';
    body += "{\"role\":" + askd::core::json::quote(history[i].role) +
            ",\"content\":" + askd::core::json::quote(history[i].content) + "}";
  }
  return body + "]}";
}

// Writes the answer to stdout as it comes; the rest to stderr when verbose.
class terminal : public client::observer {
 public:
  explicit terminal(bool verbose) : verbose_(verbose) {}
  void on_text(std::string_view text) override {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    answer += text;
  }
  void on_event(std::string_view type, std::string_view data) override {
    if (!verbose_) return;
    if (type == "sources") return print_sources(data);
    std::fprintf(stderr, "[%.*s] %.*s\n", int(type.size()), type.data(), int(data.size()),
                 data.data());
  }
  // One line: path:lines of each retrieved chunk, best first.
  static void print_sources(std::string_view data) {
    rapidjson::Document doc;
    bool parsed = askd::core::json::try_parse(data, doc);
    auto number = [](const rapidjson::Value& o, const char* key) -> std::string {
      auto it = o.FindMember(key);
      return it != o.MemberEnd() && it->value.IsInt64() ? std::to_string(it->value.GetInt64())
                                                        : "?";
    };
    std::string line = "[sources]";
    if (parsed && doc.IsObject() && doc.HasMember("sources") &&
        doc["sources"].IsArray())
      for (const auto& s : doc["sources"].GetArray())
        if (s.IsObject() && s.HasMember("path") && s["path"].IsString())
          line += std::string(" ") + s["path"].GetString() + ":" + number(s, "start_line") + "-" +
                  number(s, "end_line");
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  void on_retry(const client::result& r, std::chrono::milliseconds delay) override {
    // Always said: a silent wait of seconds looks like a hang.
    std::fprintf(stderr, "%sask: %s; %s in %.1f s\n", r.text_seen ? "\n" : "", r.message.c_str(),
                 r.text_seen ? "resuming" : "retrying", delay.count() / 1000.0);
  }
  void on_finish(const client::result& r) override {
    result = r;
    if (done) done();
  }

  std::string answer;
  client::result result;
  std::function<void()> done;

 private:
  bool verbose_;
};

// Asks with the conversation so far; returns the outcome (the answer is in `out`).
client::result ask_once(const settings& s, const std::vector<turn>& history, std::string& out) {
  boost::asio::io_context io;
  auto view = std::make_shared<terminal>(s.verbose);
  auto call = client::start(io, s.server, request_body(s, history), s.opts, view);
  // Ctrl-C cancels the call (a v1 stream on the server too); the call's end stops the wait.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) call->cancel();
  });
  view->done = [&] { signals.cancel(); };
  io.run();
  out = view->answer;
  if (!out.empty() && out.back() != '\n') std::fputc('\n', stdout);
  const auto& r = view->result;
  if (s.verbose)
    std::fprintf(stderr, "[%s over %s%s, %d attempt(s)%s]\n",
                 std::string(client::name(r.what)).c_str(),
                 std::string(client::name(r.used)).c_str(), r.fell_back ? " (fell back)" : "",
                 r.attempts, r.resumes ? ", resumed" : "");
  if (r.what != client::outcome::ok && r.what != client::outcome::cancelled)
    std::fprintf(stderr, "ask: %s: %s\n", std::string(client::name(r.what)).c_str(),
                 r.message.c_str());
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  auto s = parse_args(argc, argv);
  std::vector<turn> history;
  auto ask = [&](const std::string& q) {
    history.push_back({"user", q});
    std::string answer;
    auto r = ask_once(s, history, answer);
    if (r.what != client::outcome::ok) return exit_code(r.what);
    history.push_back({"assistant", answer});
    return 0;
  };
  for (const auto& q : s.questions)
    if (int code = ask(q); code != 0) return code;
  if (!s.chat) return 0;
  bool tty = isatty(STDIN_FILENO);
  std::string line;
  for (;;) {
    if (tty) std::fputs("> ", stderr);
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    if (int code = ask(line); code != 0 && code != 1 && code != 6) return code;
  }
  return 0;
}
