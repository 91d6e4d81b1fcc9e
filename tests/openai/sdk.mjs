// OpenAI's official SDK (npm `openai`) asking askd about a repository, as a user of the
// SDK would: a completion, a streamed completion with usage, and the errors the SDK
// raises for a bad model and a bad key.
//   node sdk.mjs <openai package dir> '<json: base_url, api_key, repo, model, question, bad_key?>'
// Prints one JSON line with what the SDK saw.
import { createRequire } from 'node:module';

const [sdkDir, argJson] = process.argv.slice(2);
const arg = JSON.parse(argJson);
const require = createRequire(import.meta.url);
const { default: OpenAI } = require(sdkDir);

const client = new OpenAI({ baseURL: arg.base_url, apiKey: arg.api_key, maxRetries: 0 });
const messages = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: arg.question },
];
const out = {};

// Not streamed: one chat.completion; repo_url is askd's documented extra field.
const completion = await client.chat.completions.create({ model: arg.model, messages, repo_url: arg.repo });
out.completion = {
  object: completion.object,
  content: completion.choices[0].message.content,
  role: completion.choices[0].message.role,
  finish_reason: completion.choices[0].finish_reason,
  total_tokens: completion.usage.total_tokens,
  sources: completion.askd?.sources?.map((s) => `${s.path}:${s.start_line}-${s.end_line}`) ?? [],
  source_text: completion.askd?.sources?.[0]?.text ?? '',
};

// Streamed, the repository named by a header instead, usage in the last chunk.
const stream = await client.chat.completions.create(
  { model: arg.model, messages, stream: true, stream_options: { include_usage: true } },
  { headers: { 'X-Askd-Repo': arg.repo } });
let text = '';
let chunks = 0;
let finish = null;
let usage = null;
let sources = 0;
for await (const chunk of stream) {
  chunks++;
  if (chunk.object !== 'chat.completion.chunk') throw new Error('unexpected object ' + chunk.object);
  if (chunk.askd?.sources) sources = chunk.askd.sources.length;
  if (chunk.usage) usage = chunk.usage;
  const choice = chunk.choices[0];
  if (!choice) continue;
  text += choice.delta?.content ?? '';
  if (choice.finish_reason) finish = choice.finish_reason;
}
out.stream = { text, chunks, finish_reason: finish, usage, sources };

// The helper the SDK offers for streams gives the same text.
const runner = client.chat.completions.stream(
  { model: arg.model, messages, repo_url: arg.repo });
out.runner_text = (await runner.finalChatCompletion()).choices[0].message.content;

// Errors: the SDK's classes, chosen by askd's status and OpenAI error shape.
async function errorOf(fn) {
  try {
    await fn();
    return null;
  } catch (e) {
    return { name: e.constructor.name, status: e.status, code: e.code ?? null, param: e.param ?? null,
             message: e.message };
  }
}
out.bad_model = await errorOf(() => client.chat.completions.create(
  { model: 'no-such-provider/x', messages, repo_url: arg.repo }));
out.no_repo = await errorOf(() => client.chat.completions.create({ model: arg.model, messages }));
if (arg.bad_key) {
  const stranger = new OpenAI({ baseURL: arg.base_url, apiKey: arg.bad_key, maxRetries: 0 });
  out.bad_key = await errorOf(() => stranger.chat.completions.create(
    { model: arg.model, messages, repo_url: arg.repo }));
}
out.models = (await client.models.list()).data.map((m) => m.id);

console.log(JSON.stringify(out));
