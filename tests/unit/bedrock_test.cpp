// Bedrock: SigV4 against AWS's published test vector and an independently computed
// signature for a model id with ':', the event-stream framing and its CRCs, the
// ConverseStream decoder (frames built byte by byte by another implementation), and the
// error classes.
#include <catch2/catch.hpp>

#include "core/config.hpp"
#include "providers/aws.hpp"
#include "providers/bedrock.hpp"
#include "tests/support/collected_events.hpp"

using namespace askd;
using namespace askd::providers;
using askd::test::collected;

namespace {

// A ConverseStream body: messageStart, two contentBlockDeltas ("Hello", " world — 日本"),
// contentBlockStop, messageStop (end_turn), metadata (12 in, 9 out), framed and
// CRC'd by Python's struct and zlib.
const char captured_bytes[] =
    "\x00\x00\x00\xae\x00\x00\x00\x52\x2f\x50\xce\x46\x0b\x3a\x65\x76\x65\x6e\x74\x2d\x74\x79\x70"
    "\x65\x07\x00\x0c\x6d\x65\x73\x73\x61\x67\x65\x53\x74"
    "\x61\x72\x74\x0d\x3a\x63\x6f\x6e\x74\x65\x6e\x74\x2d\x74\x79\x70\x65\x07\x00\x10\x61\x70\x70"
    "\x6c\x69\x63\x61\x74\x69\x6f\x6e\x2f\x6a\x73\x6f\x6e"
    "\x0d\x3a\x6d\x65\x73\x73\x61\x67\x65\x2d\x74\x79\x70\x65\x07\x00\x05\x65\x76\x65\x6e\x74\x7b"
    "\x22\x70\x22\x3a\x22\x61\x62\x63\x64\x65\x66\x67\x68"
    "\x69\x6a\x6b\x6c\x6d\x6e\x6f\x70\x71\x72\x73\x74\x75\x76\x77\x78\x79\x7a\x41\x42\x43\x44\x45"
    "\x46\x47\x48\x49\x4a\x4b\x4c\x4d\x4e\x4f\x50\x51\x52"
    "\x53\x54\x55\x56\x57\x22\x2c\x22\x72\x6f\x6c\x65\x22\x3a\x22\x61\x73\x73\x69\x73\x74\x61\x6e"
    "\x74\x22\x7d\xae\x13\xc9\xec\x00\x00\x00\xc2\x00\x00"
    "\x00\x57\x03\xf8\xa0\x85\x0b\x3a\x65\x76\x65\x6e\x74\x2d\x74\x79\x70\x65\x07\x00\x11\x63\x6f"
    "\x6e\x74\x65\x6e\x74\x42\x6c\x6f\x63\x6b\x44\x65\x6c"
    "\x74\x61\x0d\x3a\x63\x6f\x6e\x74\x65\x6e\x74\x2d\x74\x79\x70\x65\x07\x00\x10\x61\x70\x70\x6c"
    "\x69\x63\x61\x74\x69\x6f\x6e\x2f\x6a\x73\x6f\x6e\x0d"
    "\x3a\x6d\x65\x73\x73\x61\x67\x65\x2d\x74\x79\x70\x65\x07\x00\x05\x65\x76\x65\x6e\x74\x7b\x22"
    "\x63\x6f\x6e\x74\x65\x6e\x74\x42\x6c\x6f\x63\x6b\x49"
    "\x6e\x64\x65\x78\x22\x3a\x30\x2c\x22\x64\x65\x6c\x74\x61\x22\x3a\x7b\x22\x74\x65\x78\x74\x22"
    "\x3a\x22\x48\x65\x6c\x6c\x6f\x22\x7d\x2c\x22\x70\x22"
    "\x3a\x22\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f\x70\x71\x72\x73\x74\x75"
    "\x76\x77\x78\x79\x7a\x41\x42\x43\x44\x45\x46\x47\x48"
    "\x49\x4a\x22\x7d\x0f\xbb\xa8\xf2\x00\x00\x00\xb2\x00\x00\x00\x57\xfa\x2a\x40\x4a\x0b\x3a\x65"
    "\x76\x65\x6e\x74\x2d\x74\x79\x70\x65\x07\x00\x11\x63"
    "\x6f\x6e\x74\x65\x6e\x74\x42\x6c\x6f\x63\x6b\x44\x65\x6c\x74\x61\x0d\x3a\x63\x6f\x6e\x74\x65"
    "\x6e\x74\x2d\x74\x79\x70\x65\x07\x00\x10\x61\x70\x70"
    "\x6c\x69\x63\x61\x74\x69\x6f\x6e\x2f\x6a\x73\x6f\x6e\x0d\x3a\x6d\x65\x73\x73\x61\x67\x65\x2d"
    "\x74\x79\x70\x65\x07\x00\x05\x65\x76\x65\x6e\x74\x7b"
    "\x22\x63\x6f\x6e\x74\x65\x6e\x74\x42\x6c\x6f\x63\x6b\x49\x6e\x64\x65\x78\x22\x3a\x30\x2c\x22"
    "\x64\x65\x6c\x74\x61\x22\x3a\x7b\x22\x74\x65\x78\x74"
    "\x22\x3a\x22\x20\x77\x6f\x72\x6c\x64\x20\xe2\x80\x94\x20\xe6\x97\xa5\xe6\x9c\xac\x22\x7d\x2c"
    "\x22\x70\x22\x3a\x22\x61\x62\x63\x64\x65\x66\x67\x68"
    "\x22\x7d\x67\xd9\xf0\x74\x00\x00\x00\xb9\x00\x00\x00\x56\xfa\xfd\x41\xcd\x0b\x3a\x65\x76\x65"
    "\x6e\x74\x2d\x74\x79\x70\x65\x07\x00\x10\x63\x6f\x6e"
    "\x74\x65\x6e\x74\x42\x6c\x6f\x63\x6b\x53\x74\x6f\x70\x0d\x3a\x63\x6f\x6e\x74\x65\x6e\x74\x2d"
    "\x74\x79\x70\x65\x07\x00\x10\x61\x70\x70\x6c\x69\x63"
    "\x61\x74\x69\x6f\x6e\x2f\x6a\x73\x6f\x6e\x0d\x3a\x6d\x65\x73\x73\x61\x67\x65\x2d\x74\x79\x70"
    "\x65\x07\x00\x05\x65\x76\x65\x6e\x74\x7b\x22\x63\x6f"
    "\x6e\x74\x65\x6e\x74\x42\x6c\x6f\x63\x6b\x49\x6e\x64\x65\x78\x22\x3a\x30\x2c\x22\x70\x22\x3a"
    "\x22\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c"
    "\x6d\x6e\x6f\x70\x71\x72\x73\x74\x75\x76\x77\x78\x79\x7a\x41\x42\x43\x44\x45\x46\x47\x48\x49"
    "\x4a\x4b\x4c\x4d\x4e\x4f\x50\x51\x52\x53\x54\x55\x56"
    "\x57\x58\x59\x5a\x30\x22\x7d\x88\x00\x44\xd4\x00\x00\x00\xb7\x00\x00\x00\x51\xdb\xa9\x6a\x0f"
    "\x0b\x3a\x65\x76\x65\x6e\x74\x2d\x74\x79\x70\x65\x07"
    "\x00\x0b\x6d\x65\x73\x73\x61\x67\x65\x53\x74\x6f\x70\x0d\x3a\x63\x6f\x6e\x74\x65\x6e\x74\x2d"
    "\x74\x79\x70\x65\x07\x00\x10\x61\x70\x70\x6c\x69\x63"
    "\x61\x74\x69\x6f\x6e\x2f\x6a\x73\x6f\x6e\x0d\x3a\x6d\x65\x73\x73\x61\x67\x65\x2d\x74\x79\x70"
    "\x65\x07\x00\x05\x65\x76\x65\x6e\x74\x7b\x22\x70\x22"
    "\x3a\x22\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f\x70\x71\x72\x73\x74\x75"
    "\x76\x77\x78\x79\x7a\x41\x42\x43\x44\x45\x46\x47\x48"
    "\x49\x4a\x4b\x4c\x4d\x4e\x4f\x50\x51\x52\x53\x54\x55\x56\x57\x58\x59\x5a\x30\x31\x22\x2c\x22"
    "\x73\x74\x6f\x70\x52\x65\x61\x73\x6f\x6e\x22\x3a\x22"
    "\x65\x6e\x64\x5f\x74\x75\x72\x6e\x22\x7d\xe0\x61\x81\x9d\x00\x00\x00\xce\x00\x00\x00\x4e\xa2"
    "\x63\xe5\x44\x0b\x3a\x65\x76\x65\x6e\x74\x2d\x74\x79"
    "\x70\x65\x07\x00\x08\x6d\x65\x74\x61\x64\x61\x74\x61\x0d\x3a\x63\x6f\x6e\x74\x65\x6e\x74\x2d"
    "\x74\x79\x70\x65\x07\x00\x10\x61\x70\x70\x6c\x69\x63"
    "\x61\x74\x69\x6f\x6e\x2f\x6a\x73\x6f\x6e\x0d\x3a\x6d\x65\x73\x73\x61\x67\x65\x2d\x74\x79\x70"
    "\x65\x07\x00\x05\x65\x76\x65\x6e\x74\x7b\x22\x6d\x65"
    "\x74\x72\x69\x63\x73\x22\x3a\x7b\x22\x6c\x61\x74\x65\x6e\x63\x79\x4d\x73\x22\x3a\x35\x39\x33"
    "\x7d\x2c\x22\x70\x22\x3a\x22\x61\x62\x63\x64\x65\x66"
    "\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f\x22\x2c\x22\x75\x73\x61\x67\x65\x22\x3a\x7b\x22\x69\x6e"
    "\x70\x75\x74\x54\x6f\x6b\x65\x6e\x73\x22\x3a\x31\x32"
    "\x2c\x22\x6f\x75\x74\x70\x75\x74\x54\x6f\x6b\x65\x6e\x73\x22\x3a\x39\x2c\x22\x74\x6f\x74\x61"
    "\x6c\x54\x6f\x6b\x65\x6e\x73\x22\x3a\x32\x31\x7d\x7d"
    "\xec\x03\xe4\x8d";
const std::string captured(captured_bytes, sizeof captured_bytes - 1);

core::config cfg_with_aws() {
  core::load_options o;
  o.getenv = [](const char* n) {
    std::string name = n;
    if (name == "AWS_ACCESS_KEY_ID") return std::string("AKIDEXAMPLE");
    if (name == "AWS_SECRET_ACCESS_KEY")
      return std::string("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    return std::string();
  };
  return core::load_config(o);
}

}  // namespace

TEST_CASE("aws: SigV4 of AWS's get-vanilla test vector") {
  aws::signing_input in;
  in.method = "GET";
  in.path = "/";
  in.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  in.amz_date = "20150830T123600Z";
  in.region = "us-east-1";
  in.service = "service";
  in.access_key = "AKIDEXAMPLE";
  in.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  CHECK(aws::authorization(in) ==
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST_CASE("bedrock: the request is signed as AWS computes it - the model id's ':' encoded twice") {
  auto cfg = cfg_with_aws();
  bedrock_provider p(*cfg.generator.find("bedrock"), cfg.upstream);
  generation_request g;
  g.model = "anthropic.claude-3-sonnet-20240229-v1:0";
  g.messages = {{"system", "s"}, {"user", "u"}};
  auto r = p.build_at(g, "20250101T000000Z");
  CHECK(r.url ==
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
        "anthropic.claude-3-sonnet-20240229-v1%3A0/converse-stream");
  CHECK(r.body ==
        R"({"messages":[{"role":"user","content":[{"text":"u"}]}],"system":[{"text":"s"}],)"
        R"("inferenceConfig":{"temperature":0.7,"topP":0.8}})");
  auto has = [&](const std::string& h) {
    return std::find(r.headers->begin(), r.headers->end(), h) != r.headers->end();
  };
  CHECK(has("Host: bedrock-runtime.us-east-1.amazonaws.com"));
  CHECK(has("X-Amz-Date: 20250101T000000Z"));
  // Computed with Python's hashlib/hmac following AWS's canonical-request rules
  // (…v1%253A0… in the canonical URI), not with askd's code.
  CHECK(
      has("Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/bedrock/"
          "aws4_request, SignedHeaders=content-type;host;x-amz-date, "
          "Signature=47faf7c348d577e91eca1319f1f761f2474d338ab7d1c06fa9d56b8a5144179f"));
}

TEST_CASE("bedrock: without AWS credentials the provider names both variables") {
  core::load_options o;
  o.getenv = [](const char*) { return std::string(); };
  auto cfg = core::load_config(o);
  bedrock_provider p(*cfg.generator.find("bedrock"), cfg.upstream);
  auto missing = p.missing_key();
  REQUIRE(missing);
  CHECK(missing->message.find("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") != std::string::npos);
}

TEST_CASE("aws: CRC-32 is zlib's") {
  CHECK(aws::crc32("123456789") == 0xCBF43926u);
  CHECK(aws::crc32("") == 0u);
  CHECK(aws::crc32("6789", aws::crc32("12345")) == 0xCBF43926u);
}

TEST_CASE("aws: event-stream messages decode in any split; a bad CRC stops the stream") {
  for (std::size_t step : {1, 3, 7, 64, 4096}) {
    aws::event_stream_decoder d;
    std::vector<aws::event_message> out;
    for (std::size_t i = 0; i < captured.size(); i += step)
      REQUIRE_FALSE(d.feed(std::string_view(captured).substr(i, step), out));
    REQUIRE(out.size() == 6);
    CHECK(out[1].headers[":event-type"] == "contentBlockDelta");
    CHECK(out[1].headers[":message-type"] == "event");
    CHECK(out[5].payload.find("\"outputTokens\":9") != std::string::npos);
    CHECK(d.pending() == 0);
  }
  // Our encoder writes what the captured bytes hold.
  const std::size_t first_len = 0xae;
  std::vector<aws::event_message> one;
  aws::event_stream_decoder d0;
  REQUIRE_FALSE(d0.feed(captured.substr(0, first_len), one));
  CHECK(aws::encode_event({{":event-type", "messageStart"},
                           {":content-type", "application/json"},
                           {":message-type", "event"}},
                          one.at(0).payload) == captured.substr(0, first_len));

  for (std::size_t flip : {std::size_t{9}, std::size_t{40}, std::size_t{first_len - 1}}) {
    auto bad = captured;
    bad[flip] = static_cast<char>(bad[flip] ^ 1);
    aws::event_stream_decoder d;
    std::vector<aws::event_message> out;
    auto err = d.feed(bad, out);
    INFO("byte " << flip);
    REQUIRE(err);
    CHECK(err->find("CRC") != std::string::npos);
    CHECK(out.empty());
    CHECK(d.feed("more", out));  // nothing after a broken frame is trusted
  }
}

TEST_CASE("bedrock: the captured ConverseStream decodes in every split") {
  for (std::size_t cut = 0; cut <= captured.size(); cut += 5) {
    auto d = make_bedrock_decoder("bedrock");
    collected c;
    CHECK_FALSE(d->feed(std::string_view(captured).substr(0, cut), c));
    CHECK_FALSE(d->feed(std::string_view(captured).substr(cut), c));
    CHECK_FALSE(d->finish(c));
    CHECK(c.text == "Hello world — 日本");
    CHECK(c.finish == "stop");
    CHECK(c.usage.prompt_tokens == 12);
    CHECK(c.usage.completion_tokens == 9);
  }
}

TEST_CASE("bedrock: exceptions in the stream map by type; a bad frame is bad_response") {
  collected c;
  auto exception = [](const char* type, const char* message) {
    return aws::encode_event({{":message-type", "exception"}, {":exception-type", type}},
                             std::string("{\"message\":\"") + message + "\"}");
  };
  auto d = make_bedrock_decoder("bedrock");
  auto e = d->feed(exception("throttlingException", "Too many tokens"), c);
  REQUIRE(e);
  CHECK(e->code == core::error_code::rate_limited);
  d = make_bedrock_decoder("bedrock");
  e = d->feed(exception("modelStreamErrorException", "The model stream failed"), c);
  REQUIRE(e);
  CHECK(e->code == core::error_code::upstream);
  CHECK(e->retryable);
  d = make_bedrock_decoder("bedrock");
  e = d->feed(exception("validationException", "Input is too long for requested model."), c);
  REQUIRE(e);
  CHECK(e->code == core::error_code::context_length);
  d = make_bedrock_decoder("bedrock");
  auto bad = captured.substr(0, 0xae);
  bad.back() = static_cast<char>(bad.back() ^ 0x5A);
  e = d->feed(bad, c);
  REQUIRE(e);
  CHECK(e->code == core::error_code::bad_response);
  CHECK(e->message.find("CRC") != std::string::npos);
  d = make_bedrock_decoder("bedrock");
  CHECK_FALSE(d->feed(captured.substr(0, 0xae), c));
  auto cut = d->finish(c);
  REQUIRE(cut);
  CHECK(cut->message.find("messageStop") != std::string::npos);
}

TEST_CASE("bedrock: error bodies map to the supervisor's classes") {
  auto cfg = cfg_with_aws();
  bedrock_provider p(*cfg.generator.find("bedrock"), cfg.upstream);
  auto e = p.classify(
      403, R"({"message":"The security token included in the request is invalid."})", "");
  CHECK(e.code == core::error_code::unauthorized);
  CHECK(e.message.find("AWS_ACCESS_KEY_ID") != std::string::npos);
  e = p.classify(429, R"({"message":"Too many requests, please wait before trying again."})", "1");
  CHECK(e.code == core::error_code::rate_limited);
  e = p.classify(400, R"({"message":"Input is too long for requested model."})", "");
  CHECK(e.code == core::error_code::context_length);
  e = p.classify(503, R"({"message":"Bedrock is unable to process your request."})", "");
  CHECK(e.code == core::error_code::upstream);
  CHECK(e.retryable);
}

TEST_CASE("bedrock: a 429 that says too many tokens is a rate limit - not the context") {
  auto cfg = cfg_with_aws();
  bedrock_provider p(*cfg.generator.find("bedrock"), cfg.upstream);
  auto e =
      p.classify(429, R"({"message":"Too many tokens, please wait before trying again."})", "");
  CHECK(e.code == core::error_code::rate_limited);
  CHECK(e.retryable);
}
