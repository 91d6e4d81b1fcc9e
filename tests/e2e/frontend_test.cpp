// Where users already are (issue 20): deepwiki-open's frontend's own requests to the
// endpoints its pages call besides the chat (each request below is the one its pages or
// Next.js routes send, from src/app/[owner]/[repo]/page.tsx, src/app/page.tsx and
// src/app/api/*), checked for the fields those pages read; the compat face's language
// fallback; and the OpenAI-compatible face driven by OpenAI's own SDK from npm.
#include <catch2/catch.hpp>

#include <cctype>
#include <cstdio>
#include <filesystem>

#include "core/json.hpp"
#include "net/http_server.hpp"
#include "tests/support/e2e_env.hpp"
#include "tests/support/node_script.hpp"
#include "tests/support/test_client.hpp"

using namespace askd::test;
namespace json = askd::core::json;

namespace {

const std::string minirepo = ASKD_FIXTURES "/minirepo";
const std::string frontend_origin = "http://localhost:3000";

// What Next.js's rewrite proxy sends askd for the browser's POST and DELETE: the
// browser's Origin, Host rewritten to askd's.
std::vector<std::pair<std::string, std::string>> proxied(bool json_body = true) {
  std::vector<std::pair<std::string, std::string>> h{{"Origin", frontend_origin},
                                                     {"X-Forwarded-Host", "localhost:3000"}};
  if (json_body) h.emplace_back("Content-Type", "application/json");
  return h;
}

void allow_frontend(askd::core::config& c) { c.server.cors_origins = {frontend_origin}; }

std::string uri(const std::string& s) {  // encodeURIComponent
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || std::string_view("-_.!~*'()").find(c) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

rapidjson::Document parsed(const std::string& body) {
  rapidjson::Document d;
  json::parse(body, d);
  return d;
}

// The page's dataToCache for the fixture repository, as its saveCache effect sends it.
std::string wiki_post(const std::string& owner, const std::string& repo,
                      const std::string& language, const std::string& token = "",
                      const std::string& local_path = minirepo) {
  return R"({"repo":{"owner":)" + json::quote(owner) + R"(,"repo":)" + json::quote(repo) +
         R"(,"type":"local","token":)" + json::quote(token) + R"(,"localPath":)" +
         json::quote(local_path) + R"(,"repoUrl":)" + json::quote(local_path) +
         R"(},"language":)" + json::quote(language) + R"(,"comprehensive":true,
      "wiki_structure":{"id":"wiki","title":"minirepo","description":"A small repository",
        "pages":[{"id":"page-1","title":"Overview","content":"","filePaths":["README.md"],
                  "importance":"high","relatedPages":["page-2"]},
                 {"id":"page-2","title":"Retries","content":"","filePaths":["src/retry_policy.cpp"],
                  "importance":"medium","relatedPages":[]}],
        "sections":[{"id":"s1","title":"Basics","pages":["page-1","page-2"]}],"rootSections":["s1"]},
      "generated_pages":{
        "page-1":{"id":"page-1","title":"Overview","content":"# Overview\nminirepo is small.",
                  "filePaths":["README.md"],"importance":"high","relatedPages":["page-2"]},
        "page-2":{"id":"page-2","title":"Retries","content":"# Retries\nBackoff.",
                  "filePaths":["src/retry_policy.cpp"],"importance":"medium","relatedPages":[]}},
      "provider":"local","model":"extractive"})";
}

// The page's GET (loadData) and DELETE (confirmRefresh) query strings.
std::string wiki_get_query(const std::string& owner, const std::string& repo,
                           const std::string& language) {
  return "/api/wiki_cache?owner=" + uri(owner) + "&repo=" + uri(repo) +
         "&repo_type=local&language=" + uri(language) + "&comprehensive=true";
}
std::string wiki_delete_query(const std::string& owner, const std::string& repo,
                              const std::string& language, const std::string& code = "") {
  return "/api/wiki_cache?owner=" + uri(owner) + "&repo=" + uri(repo) +
         "&repo_type=local&language=" + uri(language) +
         "&provider=local&model=extractive&is_custom_model=false&custom_model=&comprehensive=true"
         "&authorization_code=" +
         uri(code);
}

}  // namespace

TEST_CASE("deepwiki-open's repository page reads a local repository's structure") {
  e2e_env env;
  // fetch(`/local_repo/structure?path=${encodeURIComponent(localPath)}`)
  auto r = http_call(env.port, "GET", "/local_repo/structure?path=" + uri(minirepo));
  REQUIRE(r.status == 200);
  auto d = parsed(r.body);
  std::string tree = d["file_tree"].GetString();
  CHECK(tree.find("README.md\n") == 0);
  CHECK(tree.find("src/retry_policy.cpp") != std::string::npos);
  CHECK(tree.find(".git") == std::string::npos);
  CHECK(std::string(d["readme"].GetString()).rfind("# minirepo", 0) == 0);

  SECTION("nothing outside the allowed roots, missing or not, and no path at all") {
    for (const std::string& path : {std::string("/etc"), minirepo + "/../../..",
                                    std::string("/no/such/dir")}) {
      auto refused = http_call(env.port, "GET", "/local_repo/structure?path=" + uri(path));
      CHECK(refused.status == 403);
      CHECK(parsed(refused.body)["error"].IsString());
    }
    auto none = http_call(env.port, "GET", "/local_repo/structure");
    CHECK(none.status == 400);
    CHECK(std::string(parsed(none.body)["error"].GetString()).find("No path provided") == 0);
  }
}

TEST_CASE("deepwiki-open's wiki cache: save, read, list, delete, as its pages call them") {
  e2e_env env(allow_frontend);
  // Nothing cached: 200 with a null body, which the page reads as "generate it".
  auto none = http_call(env.port, "GET", wiki_get_query("local", "minirepo", "en"));
  CHECK(none.status == 200);
  CHECK(none.body == "null");

  auto saved = http_call(env.port, "POST", "/api/wiki_cache",
                         wiki_post("local", "minirepo", "en", ""), proxied());
  REQUIRE(saved.status == 200);
  CHECK(std::string(parsed(saved.body)["message"].GetString()) == "Wiki cache saved successfully");

  auto got = http_call(env.port, "GET", wiki_get_query("local", "minirepo", "en"));
  REQUIRE(got.status == 200);
  auto d = parsed(got.body);
  // What loadData reads: wiki_structure (pages, sections, rootSections), generated_pages,
  // model, provider and repo (it becomes the page's repository).
  CHECK(d["wiki_structure"]["pages"].Size() == 2);
  CHECK(d["wiki_structure"]["sections"].Size() == 1);
  CHECK(d["wiki_structure"]["rootSections"].Size() == 1);
  CHECK(std::string(d["generated_pages"]["page-2"]["content"].GetString()) == "# Retries\nBackoff.");
  CHECK(std::string(d["provider"].GetString()) == "local");
  CHECK(std::string(d["model"].GetString()) == "extractive");
  CHECK(std::string(d["repo"]["localPath"].GetString()) == minirepo);
  CHECK(!d["repo"].HasMember("token"));  // never written anywhere

  // A language askd does not have reads the default's wiki, as deepwiki-open does.
  auto fallback = http_call(env.port, "GET", wiki_get_query("local", "minirepo", "de"));
  CHECK(fallback.body == got.body);

  // The projects page (through its /api/wiki/projects route).
  auto projects = http_call(env.port, "GET", "/api/processed_projects", "",
                            {{"Content-Type", "application/json"}});
  REQUIRE(projects.status == 200);
  auto p = parsed(projects.body);
  REQUIRE(p.Size() == 1);
  CHECK(std::string(p[0]["id"].GetString()) == "deepwiki_cache_local_local_minirepo_en.json");
  CHECK(std::string(p[0]["owner"].GetString()) == "local");
  CHECK(std::string(p[0]["repo"].GetString()) == "minirepo");
  CHECK(std::string(p[0]["name"].GetString()) == "local/minirepo");
  CHECK(std::string(p[0]["repo_type"].GetString()) == "local");
  CHECK(std::string(p[0]["language"].GetString()) == "en");
  CHECK(p[0]["submittedAt"].GetInt64() > 1700000000000);

  // Refresh: the page deletes the server's copy, with its whole query.
  auto deleted = http_call(env.port, "DELETE", wiki_delete_query("local", "minirepo", "en"), "",
                           proxied(false));
  CHECK(deleted.status == 200);
  CHECK(parsed(deleted.body)["message"].IsString());
  CHECK(http_call(env.port, "DELETE", wiki_delete_query("local", "minirepo", "en"), "",
                  proxied(false))
            .status == 404);
  CHECK(http_call(env.port, "DELETE", wiki_delete_query("local", "minirepo", "de"), "",
                  proxied(false))
            .status == 400);  // deepwiki-open: "Language is not supported"
  CHECK(http_call(env.port, "GET", "/api/processed_projects").body == "[]");
}

TEST_CASE("the wiki cache holds hostile names inside its directory and keeps its bounds") {
  e2e_env env([](askd::core::config& c) {
    allow_frontend(c);
    c.wiki_cache.max_entries = 2;
  });
  auto dir = env.data_dir.path + "/wikicache";
  // Names that would leave the directory, or collide, are encoded into one file name.
  for (const std::string owner : {"../../etc", "a_b", "a%2Fb"}) {
    auto r = http_call(env.port, "POST", "/api/wiki_cache", wiki_post(owner, "x/../y", "en"),
                       proxied());
    CHECK(r.status == 200);
    auto back = http_call(env.port, "GET", wiki_get_query(owner, "x/../y", "en"));
    CHECK(back.body.find("\"owner\":" + json::quote(owner)) != std::string::npos);
  }
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    ++files;
    CHECK(e.path().filename().string().find('/') == std::string::npos);
  }
  CHECK(files == 2);  // wiki_cache.max_entries: the oldest went
  CHECK(!std::filesystem::exists(env.data_dir.path + "/etc"));
  auto list = parsed(http_call(env.port, "GET", "/api/processed_projects").body);
  REQUIRE(list.Size() == 2);
  CHECK(std::string(list[0]["owner"].GetString()) == "a%2Fb");  // most recent first
  CHECK(std::string(list[1]["owner"].GetString()) == "a_b");

  SECTION("refused: a too long name, a bad body, a path outside the roots, a private wiki") {
    CHECK(http_call(env.port, "POST", "/api/wiki_cache",
                    wiki_post(std::string(300, 'o'), "r", "en"), proxied())
              .status == 422);
    auto bad = wiki_post("o", "r", "en");
    bad.replace(bad.find("\"filePaths\""), 11, "\"filePathz\"");
    auto r = http_call(env.port, "POST", "/api/wiki_cache", bad, proxied());
    CHECK(r.status == 422);
    CHECK(r.body.find("filePaths") != std::string::npos);
    CHECK(http_call(env.port, "POST", "/api/wiki_cache", wiki_post("o", "r", "en", "", "/etc"),
                    proxied())
              .status == 403);
    // Without API keys anyone could read a private repository's wiki by its name.
    CHECK(http_call(env.port, "POST", "/api/wiki_cache", wiki_post("o", "r", "en", "ghp_secret"),
                    proxied())
              .status == 403);
    CHECK(http_call(env.port, "GET", "/api/wiki_cache?owner=o&repo=r").status == 422);
  }
  SECTION("a page on another origin may not write it") {
    CHECK(http_call(env.port, "POST", "/api/wiki_cache", wiki_post("o", "r", "en"),
                    {{"Origin", "http://evil.example"}, {"Content-Type", "application/json"}})
              .status == 403);
    CHECK(http_call(env.port, "POST", "/api/wiki_cache", wiki_post("o", "r", "en"),
                    {{"Content-Type", "text/plain"}})
              .status == 415);
  }
}

TEST_CASE("deepwiki-open's auth check maps onto askd's API keys") {
  const std::string key = "frontend-key-0123456789";
  SECTION("no keys: nothing to check") {
    e2e_env env;
    CHECK(http_call(env.port, "GET", "/auth/status").body == R"({"auth_required":false})");
    CHECK(http_call(env.port, "POST", "/auth/validate", R"({"code":""})",
                    {{"Content-Type", "application/json"}})
              .body == R"({"success":true})");
  }
  SECTION("keys: the code is a key; the checks themselves need none") {
    e2e_env env([](askd::core::config& c) {
      allow_frontend(c);
      c.auth.api_keys = {"frontend-key-0123456789"};
    });
    CHECK(http_call(env.port, "GET", "/auth/status").body == R"({"auth_required":true})");
    auto validate = [&](const std::string& code) {
      return http_call(env.port, "POST", "/auth/validate", "{\"code\":" + json::quote(code) + "}",
                       {{"Content-Type", "application/json"}})
          .body;
    };
    CHECK(validate(key) == R"({"success":true})");
    CHECK(validate("frontend-key-0123456780") == R"({"success":false})");
    CHECK(http_call(env.port, "GET", wiki_get_query("local", "minirepo", "en")).status == 401);
    CHECK(http_call(env.port, "POST", "/api/wiki_cache", wiki_post("local", "minirepo", "en"),
                    {{"Origin", frontend_origin},
                     {"Content-Type", "application/json"},
                     {"Authorization", "Bearer " + key}})
              .status == 200);
    // The page deletes with ?authorization_code= and no header.
    CHECK(http_call(env.port, "DELETE", wiki_delete_query("local", "minirepo", "en", "wrong"), "",
                    proxied(false))
              .status == 401);
    CHECK(http_call(env.port, "DELETE", wiki_delete_query("local", "minirepo", "en", key), "",
                    proxied(false))
              .status == 200);
  }
}

TEST_CASE("deepwiki-open's export gives Markdown and JSON downloads") {
  e2e_env env(allow_frontend);
  // exportWiki's body: the structure's pages with their generated content.
  const std::string body = R"({"repo_url":"https://github.com/askd/example","type":"github","format":"FORMAT",
    "pages":[{"id":"page-1","title":"Overview","content":"# Overview\nText","filePaths":["a.cpp"],
              "importance":"high","relatedPages":["page-2"]},
             {"id":"page-2","title":"Details","content":"More","filePaths":[],"importance":"low",
              "relatedPages":[]}]})";
  auto with = [&](const std::string& format) {
    auto b = body;
    b.replace(b.find("FORMAT"), 6, format);
    return http_call(env.port, "POST", "/export/wiki", b, proxied());
  };
  auto md = with("markdown");
  REQUIRE(md.status == 200);
  CHECK(md.header("content-type").rfind("text/markdown", 0) == 0);
  CHECK(md.header("content-disposition").rfind("attachment; filename=example_wiki_", 0) == 0);
  CHECK(md.header("content-disposition").find(".md") != std::string::npos);
  CHECK(md.body.rfind("# Wiki Documentation for https://github.com/askd/example\n", 0) == 0);
  CHECK(md.body.find("- [Overview](#page-1)\n- [Details](#page-2)") != std::string::npos);
  CHECK(md.body.find("Related topics: [Details](#page-2)") != std::string::npos);
  CHECK(md.body.find("# Overview\nText\n\n---") != std::string::npos);

  auto js = with("json");
  REQUIRE(js.status == 200);
  CHECK(js.header("content-disposition").find(".json") != std::string::npos);
  auto d = parsed(js.body);
  CHECK(std::string(d["metadata"]["repository"].GetString()) == "https://github.com/askd/example");
  CHECK(d["metadata"]["page_count"].GetInt() == 2);
  CHECK(std::string(d["pages"][1]["title"].GetString()) == "Details");
  CHECK(with("pdf").status == 422);
}

TEST_CASE("the compat face answers an unknown language in the default one; v1 refuses it") {
  e2e_env env;
  auto body = local_body("How is the backoff delay computed?");
  body.insert(1, R"("language":"de",)");
  auto compat = http_call(env.port, "POST", "/chat/completions/stream", body,
                          {{"Content-Type", "application/json"}});
  CHECK(compat.status == 200);
  CHECK(compat.body.find("compute_backoff_delay") != std::string::npos);
  auto v1 = http_call(env.port, "POST", "/v1/chat/stream", body, {{"Content-Type", "application/json"}});
  CHECK(v1.status == 400);
  CHECK(v1.body.find("unsupported language") != std::string::npos);
}

namespace {


const std::string openai_sdk = ASKD_NPM_DIR "/node_modules/openai";

}  // namespace

TEST_CASE("OpenAI's SDK asks askd about a repository, streamed and not") {
  if (!std::filesystem::exists(openai_sdk) || !have_node()) {
    WARN("SKIPPED: needs node and " << openai_sdk << " (./dev test installs them)");
    return;
  }
  const std::string key = "sdk-key-0123456789abcdef";
  e2e_env env([](askd::core::config& c) { c.auth.api_keys = {"sdk-key-0123456789abcdef"}; });
  const std::string answer = "Retries back off exponentially: see `compute_backoff_delay`.";
  // askmock (behind the openai provider) answers exactly this, in small pieces.
  auto arg = "{\"base_url\":\"http://127.0.0.1:" + std::to_string(env.port) +
             "/v1\",\"api_key\":" + json::quote(key) + ",\"bad_key\":\"not-a-key-0123456789\"" +
             ",\"repo\":" + json::quote(minirepo) +
             ",\"model\":\"openai/gpt-4o\",\"question\":" +
             json::quote("How are retries done? #mock{\"text\":" + json::quote(answer) +
                         ",\"chunk\":7}") +
             "}";
  auto out =
      run_command("node " ASKD_TESTS_DIR "/openai/sdk.mjs " + openai_sdk + " " + shell_quote(arg) + " 2>&1").out;
  INFO("sdk: " << out);
  auto line = last_line(out);
  REQUIRE(line.rfind("{\"", 0) == 0);
  auto d = parsed(line);

  const auto& c = d["completion"];
  CHECK(std::string(c["object"].GetString()) == "chat.completion");
  CHECK(std::string(c["content"].GetString()) == answer);
  CHECK(std::string(c["role"].GetString()) == "assistant");
  CHECK(std::string(c["finish_reason"].GetString()) == "stop");
  CHECK(c["total_tokens"].GetInt() > 0);
  REQUIRE(c["sources"].Size() > 0);  // retrieval ran on the repository
  CHECK(std::string(c["source_text"].GetString()).size() > 10);

  const auto& s = d["stream"];
  CHECK(std::string(s["text"].GetString()) == answer);
  CHECK(s["chunks"].GetInt() > 5);  // streamed in pieces
  CHECK(std::string(s["finish_reason"].GetString()) == "stop");
  REQUIRE(s["usage"].IsObject());  // stream_options.include_usage
  CHECK(s["usage"]["total_tokens"].GetInt() ==
        s["usage"]["prompt_tokens"].GetInt() + s["usage"]["completion_tokens"].GetInt());
  CHECK(s["sources"].GetInt() > 0);
  CHECK(std::string(d["runner_text"].GetString()) == answer);

  CHECK(std::string(d["bad_model"]["name"].GetString()) == "NotFoundError");
  CHECK(std::string(d["bad_model"]["code"].GetString()) == "model_not_found");
  CHECK(std::string(d["no_repo"]["name"].GetString()) == "BadRequestError");
  CHECK(std::string(d["no_repo"]["param"].GetString()) == "repo_url");
  CHECK(std::string(d["bad_key"]["name"].GetString()) == "AuthenticationError");
  CHECK(std::string(d["bad_key"]["code"].GetString()) == "invalid_api_key");
  bool listed = false;
  for (const auto& m : d["models"].GetArray()) listed |= std::string(m.GetString()) == "openai/gpt-4o";
  CHECK(listed);
}

TEST_CASE("the OpenAI face refuses in OpenAI's error shape and cancels when the client goes") {
  e2e_env env;
  auto refused = [&](const std::string& body) {
    return http_call(env.port, "POST", "/v1/chat/completions", body,
                     {{"Content-Type", "application/json"}});
  };
  auto r = refused(R"({"model":"local","repo_url":")" + minirepo +
                   R"(","messages":[{"role":"tool","content":"x"},{"role":"user","content":"q"}]})");
  CHECK(r.status == 400);
  CHECK(parsed(r.body)["error"]["type"].GetString() == std::string("invalid_request_error"));
  CHECK(refused(R"({"model":"local","repo_url":"/etc","messages":[{"role":"user","content":"q"}]})")
            .status == 403);
  CHECK(refused(R"({"model":"local","repo_url":")" + minirepo +
                R"(","messages":[{"role":"user","content":[{"type":"image_url"}]}]})")
            .status == 400);
  CHECK(refused("{not json").status == 400);
  auto wrong_method = http_call(env.port, "GET", "/v1/chat/completions");
  CHECK(wrong_method.status == 405);
  CHECK(parsed(wrong_method.body)["error"]["message"].IsString());

  // Content as a list of text parts is read; the answer streams as chunks ending in [DONE].
  auto ok = refused(R"({"model":"local","stream":true,"repo_url":")" + minirepo +
                    R"(","messages":[{"role":"user","content":[{"type":"text","text":"backoff delay?"}]}]})");
  CHECK(ok.status == 200);
  auto events = parse_sse(ok.body);
  REQUIRE(!events.empty());
  CHECK(events.back().data == "[DONE]");
  CHECK(ok.body.find("compute_backoff_delay") != std::string::npos);

  // A client leaving mid-answer cancels the answer (no stream is left behind).
  {
    raw_connection c(env.port);
    std::string body = R"({"model":"openai","messages":[{"role":"user","content":"q #mock{\"text\":\"slow words keep coming\",\"chunk\":3,\"gap_ms\":200}"}],"repo_url":"https://github.com/askd/example","retrieval":{"mode":"none"},"stream":true})";
    c.send("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    c.read_until("\"content\":\"slo", std::chrono::milliseconds(10000));
  }
  CHECK(env.settles());
}
