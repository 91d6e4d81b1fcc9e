#include "net/askd_service.hpp"

namespace askd::net {
void send_openai_error(response& res, int status, std::string_view message, header_list extra) {
  send_detail(res, status, message, std::move(extra));
}
void askd_service::openai_chat(const request&, const std::shared_ptr<response>& res) { send_openai_error(*res, 501, "todo"); }
void askd_service::openai_models(const request&, const std::shared_ptr<response>& res) { send_openai_error(*res, 501, "todo"); }
}
