-- wrk script: POST one chat request per connection turn. BODY_KIND=mock sends an
-- OpenAI request straight to askmock; otherwise a compat request for askd.
local deltas = os.getenv("DELTAS") or "64"
local gap = os.getenv("GAP_MS") or "20"
local directive = '{\\"deltas\\":' .. deltas .. ',\\"first_ms\\":' .. gap .. ',\\"gap_ms\\":' .. gap .. '}'
local kind = os.getenv("BODY_KIND") or "askd"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if kind == "mock" then
  wrk.headers["Authorization"] = "Bearer sk-bench"
  wrk.body = '{"model":"m","stream":true,"messages":[{"role":"user","content":"q #mock' .. directive .. '"}]}'
else
  wrk.body = '{"repo_url":"https://github.com/askd/bench","provider":"openai","retrieval":{"mode":"none"},"messages":[{"role":"user","content":"q #mock' .. directive .. '"}]}'
end
