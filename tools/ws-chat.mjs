// A minimal WebSocket client for askd's compat face, for trying it by hand:
//   node --experimental-websocket tools/ws-chat.mjs ws://127.0.0.1:8001/ws/chat '<request json>'
// Prints each frame as it arrives; exits 0 on close 1000, 1 otherwise.
const [url, request] = process.argv.slice(2);
if (!url || !request) {
  console.error("usage: ws-chat.mjs WS_URL REQUEST_JSON");
  process.exit(2);
}
const ws = new WebSocket(url);
ws.onopen = () => ws.send(request);
ws.onmessage = (e) => process.stdout.write(e.data);
ws.onerror = () => { console.error("\nws-chat: connection failed"); process.exit(1); };
ws.onclose = (e) => { process.stdout.write("\n"); process.exit(e.code === 1000 ? 0 : 1); };
