#include "net/web_assets.hpp"

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "net/web_embedded.hpp"

namespace askd::net {
namespace {

std::string etag_of(std::string_view body) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : body) h = (h ^ c) * 1099511628211ull;
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

std::string type_of(std::string_view name) {
  auto ends = [&](std::string_view s) {
    return name.size() >= s.size() && name.substr(name.size() - s.size()) == s;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

web_asset make(std::string_view name, std::string body) {
  web_asset a;
  a.content_type = type_of(name);
  a.etag = etag_of(body);
  a.body = std::move(body);
  return a;
}

const std::map<std::string, web_asset, std::less<>>& embedded() {
  static const auto assets = [] {
    std::map<std::string, web_asset, std::less<>> m;
    for (std::size_t i = 0; i < web_embedded::count; ++i) {
      const auto& f = web_embedded::files[i];
      m.emplace(f.name, make(f.name, std::string(f.begin, f.end)));
    }
    return m;
  }();
  return assets;
}

// ASKD_WEB_DIR: the page's own files from disk, read again on every request.
std::shared_ptr<const web_asset> from_dir(const std::string& dir, const std::string& name) {
  if (name.find('/') != std::string::npos || name.rfind('.', 0) == 0) return nullptr;
  std::ifstream in(dir + "/" + name, std::ios::binary);
  if (!in) return nullptr;
  std::ostringstream body;
  body << in.rdbuf();
  return std::make_shared<web_asset>(make(name, body.str()));
}

}  // namespace

std::shared_ptr<const web_asset> find_web_asset(std::string_view path) {
  std::string name;
  if (path == "/")
    name = "index.html";
  else if (path.rfind("/web/", 0) == 0)
    name = std::string(path.substr(5));
  else
    return nullptr;
  if (const char* dir = std::getenv("ASKD_WEB_DIR"); dir && *dir)
    if (auto a = from_dir(dir, name)) return a;
  const auto& m = embedded();
  auto it = m.find(name);
  if (it == m.end()) return nullptr;
  return {std::shared_ptr<const web_asset>(), &it->second};  // static: owns nothing
}

}  // namespace askd::net
