// deepwiki-open's Ask component's deep research, as a browser runs it (issue 8): the page
// opens a new WebSocket to /ws/chat for every round, sends the whole conversation with
// "[DEEP RESEARCH] Continue the research" after each answer, takes each answer's stage
// from its headings, decides from the text whether the research is complete, and stops
// after five requests at most (forcing a conclusion of its own when the fifth answer has
// none). deepwiki-open's source cannot be vendored here, so this is our re-statement of
// that protocol (src/components/Ask.tsx, src/utils/websocketClient.ts): the same
// requests, the same heading patterns, the same completion markers; the component's
// 2 s + 1 s pauses between rounds (there for its readers) are left out.
//   node ask_research.mjs <askd port> <request JSON> <playwright-core dir> <chromium>
// The request JSON is the Ask body without `messages`, plus `question` (and, to try the
// server-driven research on the compat face, `deep_research: true`).
// Prints {"requests", "stages": [{"title","iteration","type"}], "complete", "forced",
// "answers"} as JSON.
import { createRequire } from 'node:module';

const [askdPort, requestJson, playwrightDir, chromiumPath] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const { chromium } = require(playwrightDir);

const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${askdPort}/health`);
  const result = await page.evaluate(async (request) => {
    const maxIterations = 5;  // the component's own bound

    // The markers the component reads an answer's completion from.
    const isComplete = (text) => {
      if (text.includes('## Final Conclusion')) return true;
      const goesOn = ['I will now proceed to', 'Next Steps', 'next iteration'].some((m) => text.includes(m));
      if ((text.includes('## Conclusion') || text.includes('## Summary')) && !goesOn) return true;
      const done = ['This concludes our research', 'This completes our investigation',
        'This concludes the deep research process', 'Key Findings and Implementation Details',
        'In conclusion,'];
      if (done.some((m) => text.includes(m))) return true;
      if (text.includes('Final') && text.includes('Conclusion')) return true;
      const docker = text.includes('Dockerfile') &&
        (text.includes('This Dockerfile') || text.includes('The Dockerfile'));
      return docker && !text.includes('Next Steps') && !text.includes('In the next iteration');
    };

    // The stage an answer shows, as the component names it.
    const stageOf = (text, iteration) => {
      if (iteration === 1 && text.includes('## Research Plan'))
        return { title: 'Research Plan', iteration: 1, type: 'plan' };
      if (iteration >= 1 && iteration <= 4 && text.includes(`## Research Update ${iteration}`))
        return { title: `Research Update ${iteration}`, iteration, type: 'update' };
      if (text.includes('## Final Conclusion'))
        return { title: 'Final Conclusion', iteration, type: 'conclusion' };
      return null;
    };

    // One round: a fresh WebSocket, the request as its first message, every message
    // received appended, the round over when the socket closes.
    const ask = (messages) => new Promise((resolve, reject) => {
      const body = { ...request, messages };
      delete body.question;
      const ws = new WebSocket(`ws://${location.host}/ws/chat`);
      let text = '';
      ws.onopen = () => ws.send(JSON.stringify(body));
      ws.onmessage = (e) => { text += e.data; };
      ws.onerror = () => reject(new Error('websocket failed'));
      ws.onclose = () => resolve(text);
      setTimeout(() => { ws.close(); reject(new Error('round timed out')); }, 20000);
    });

    const stages = [];
    const answers = [];
    const history = [{ role: 'user', content: `[DEEP RESEARCH] ${request.question}` }];
    let iteration = 1;
    let forced = false;
    let complete = false;
    for (;;) {
      let text = await ask(history);
      answers.push(text);
      const stage = stageOf(text, iteration);
      if (stage) stages.push(stage);
      complete = isComplete(text);
      if (!complete && iteration >= maxIterations) {
        text += '\n\n## Final Conclusion\n(forced by the client)';
        forced = complete = true;
      }
      if (complete) break;
      history.push({ role: 'assistant', content: text });
      history.push({ role: 'user', content: '[DEEP RESEARCH] Continue the research' });
      iteration += 1;
    }
    return { requests: answers.length, stages, complete, forced, answers };
  }, JSON.parse(requestJson));
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
