// Load test of dsv3 serve over loopback: C concurrent clients stream completions (server-sent
// events) until R requests are done or D seconds pass; prints total tokens/s, time to first
// token and request latency percentiles, and the errors (a non-200 status or a stream
// without data: [DONE]). Bounded in requests and in time; only ever talks to 127.0.0.1.
//
//   node bench/bench_serving.mjs --model DIR [--speculative] [--concurrency 1,8,32]
//        [--requests 64] [--max-tokens 64] [--prompt-len 16] [--duration 60]
//   node bench/bench_serving.mjs --port P --name NAME ...      (a server already running)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import os from 'node:os';

export async function startServer(binary, args) {
  const p = spawn(binary, ['serve', '--host', '127.0.0.1', '--port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('dsv3 serve did not start: ' + log)), 60000);
    p.stderr.on('data', (d) => {
      log += d;
      const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    p.on('exit', (code) => { clearTimeout(timer); reject(new Error(`dsv3 serve exited (${code}): ${log}`)); });
  });
  p.stderr.removeAllListeners('data');
  p.stderr.resume();
  const stop = () => new Promise((resolve) => {
    if (p.exitCode !== null) return resolve(p.exitCode);
    p.once('exit', (code) => resolve(code));
    p.kill('SIGTERM');
  });
  return { port, process: p, stop };
}

// A small deterministic generator, so every run sends the same prompts.
function prompts(count, len, vocab, seed = 1) {
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  return Array.from({ length: count }, () => Array.from({ length: len }, () => 2 + (next() % (vocab - 2))));
}

async function oneStream(url, model, prompt, maxTokens, apiKey) {
  const t0 = performance.now();
  const headers = { 'Content-Type': 'application/json' };
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  const res = await fetch(url + '/v1/completions', {
    method: 'POST', headers,
    body: JSON.stringify({ model, prompt, max_tokens: maxTokens, temperature: 0, ignore_eos: true, stream: true }),
  });
  if (res.status !== 200) return { ok: false, status: res.status, body: await res.text() };
  let ttft = null, tokens = 0, buf = '', done = false;
  const decoder = new TextDecoder();
  for await (const part of res.body) {
    buf += decoder.decode(part, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (!ev.startsWith('data: ')) continue;
      const data = ev.slice(6);
      if (data === '[DONE]') { done = true; continue; }
      const n = JSON.parse(data).choices?.[0]?.token_ids?.length ?? 0;
      if (n > 0 && ttft === null) ttft = performance.now() - t0;
      tokens += n;
    }
  }
  return { ok: done, status: 200, tokens, ttft, latency: performance.now() - t0 };
}

const pct = (xs, p) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

export async function runLoad({ url, model, concurrency, requests, maxTokens, promptLen = 16, vocab = 512, durationS = 60, apiKey }) {
  const ps = prompts(requests, promptLen, vocab);
  const results = [];
  let next = 0;
  const deadline = performance.now() + durationS * 1000;
  const t0 = performance.now();
  const worker = async () => {
    while (next < requests && performance.now() < deadline) {
      const prompt = ps[next++];
      try {
        results.push(await oneStream(url, model, prompt, maxTokens, apiKey));
      } catch (e) {
        results.push({ ok: false, status: 0, body: String(e) });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const good = results.filter((r) => r.ok);
  const tokens = good.reduce((a, r) => a + r.tokens, 0);
  return {
    concurrency, requests: results.length, errors: results.length - good.length, tokens, seconds,
    tokPerS: tokens / seconds,
    ttftP50: pct(good.map((r) => r.ttft), 50), ttftP95: pct(good.map((r) => r.ttft), 95),
    latP50: pct(good.map((r) => r.latency), 50), latP95: pct(good.map((r) => r.latency), 95),
    firstError: results.find((r) => !r.ok),
  };
}

export function formatRow(r) {
  const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  return `| ${r.concurrency} | ${r.requests} | ${r.errors} | ${r.tokens} | ${f(r.seconds, 2)} | ${f(r.tokPerS)} | ` +
         `${f(r.ttftP50)} | ${f(r.ttftP95)} | ${f(r.latP50)} | ${f(r.latP95)} |`;
}

export const tableHeader =
  '| streams | requests | errors | tokens | seconds | tokens/s | TTFT p50 ms | TTFT p95 ms | latency p50 ms | latency p95 ms |\n' +
  '|---|---|---|---|---|---|---|---|---|---|';

async function main() {
  const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
    return acc;
  }, []));
  const here = path.dirname(fileURLToPath(import.meta.url));
  const binary = args.binary ?? path.resolve(here, '..', 'build', 'dsv3');
  let server = null, port = Number(args.port ?? 0), name = args.name;
  if (!port) {
    const extra = ['--model', args.model, '--max-sequences', args['max-sequences'] ?? '64', '--max-queue', '256'];
    if (args.speculative) extra.push('--speculative', 'mtp', '--draft', args.draft ?? '1');
    if (args.threads) extra.push('--threads', args.threads);
    server = await startServer(binary, extra);
    port = server.port;
    name = name ?? path.basename(path.resolve(args.model));
  }
  const url = `http://127.0.0.1:${port}`;
  const vocab = Number(args.vocab ?? 512);  // prompt ids are drawn from [2, vocab)
  console.log(`# dsv3 serve load test: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), model ${name}` +
              `${args.speculative ? ', --speculative mtp --draft ' + (args.draft ?? '1') : ''}, max_tokens ${args['max-tokens'] ?? 64}, ` +
              `prompt ${args['prompt-len'] ?? 16} tokens, greedy, ignore_eos`);
  console.log('# command: node bench/bench_serving.mjs ' + process.argv.slice(2).join(' '));
  console.log(tableHeader);
  let one = null;
  for (const c of String(args.concurrency ?? '1,8,32').split(',').map(Number)) {
    const r = await runLoad({
      url, model: name, concurrency: c, requests: Number(args.requests ?? 64), maxTokens: Number(args['max-tokens'] ?? 64),
      promptLen: Number(args['prompt-len'] ?? 16), vocab, durationS: Number(args.duration ?? 60), apiKey: args['api-key'],
    });
    one = one ?? r;
    console.log(formatRow(r) + (one !== r ? ` (${(r.tokPerS / one.tokPerS).toFixed(2)}x the first row)` : ''));
    if (r.firstError) console.log('# first error:', JSON.stringify(r.firstError).slice(0, 300));
  }
  if (server) await server.stop();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((e) => { console.error(e); process.exit(1); });
}
