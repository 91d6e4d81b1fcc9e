// actors/research.hpp — a server-driven deep research (`deep_research: true`): one actor
// per investigation, one round actor (actors/round.hpp) per step, one after the other.
// Round 1 plans and retrieves for the question; each later round retrieves for what the
// round before said it would look at next ("Next: ..."; the conclusion: the question), sees the
// earlier rounds as the conversation so far, and adds to them. Each round starts with a `stage`
// event and its heading as text ("## Research Plan", "## Research Update N", "## Final
// Conclusion"), so v1 clients get both and deepwiki-open's client finds its headings. The
// investigation ends after a conclusion: at max_rounds, after a round that names nothing more to
// look at (the next round concludes), or when a model concludes early. Each round's generation is
// supervised as any answer's (retries, continuation without repeats, fallback); a round that still
// fails ends the research with its error. The research is linked to the session, and its rounds to
// it: a cancel stops them all at once.
#pragma once

#include <memory>

#include "actors/round.hpp"

namespace askd::actors {

struct takeover;

// `request` is the client's; `listener` hears each round's retrieval, then one end for
// the whole investigation (usage summed, degradations merged; the stream's hub counts
// the attempts).
// `resumed`: a research taken over from a lost node (actors/replication.hpp) goes on from
// its round in flight, after the rounds the lost node completed.
round_listener_actor spawn_research(caf::local_actor& parent, round_env env,
                                    std::shared_ptr<const core::chat_request> request,
                                    round_listener_actor listener,
                                    std::shared_ptr<const takeover> resumed = nullptr);

}  // namespace askd::actors
