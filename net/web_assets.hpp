// net/web_assets.hpp — askd's own web page (web/): its files are compiled into the
// binary at build time, with the npm libraries it bundles (web/vendor.list), so askd
// serves it from anywhere with nothing to install and nothing fetched from a CDN.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace askd::net {

struct web_asset {
  std::string content_type;
  std::string body;
  std::string etag;  // a hash of the body, quoted
};

// The file served at `path`: "/" is index.html, "/web/<name>" the others. null for
// any other path. With ASKD_WEB_DIR set (working on the page), index.html, app.js and
// style.css are read from that directory on each request instead.
std::shared_ptr<const web_asset> find_web_asset(std::string_view path);

}  // namespace askd::net
