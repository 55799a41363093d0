// A stand-in for a Slack incoming webhook on loopback: it records every POST (path and
// JSON body) and answers with the status the test sets, so a test can read what a run
// told the channel, or make the channel refuse it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface NotifyPost {
  path: string;
  contentType?: string;
  body: string;
  /** The `text` of a Slack payload, when the body is one. */
  text?: string;
}

export interface NotifyServer {
  port: number;
  /** http://127.0.0.1:<port><path> */
  url(path: string): string;
  posts: NotifyPost[];
  /** What the next requests are answered with (200 by default). */
  status: number;
  close(): Promise<void>;
}

export async function startNotifyServer(): Promise<NotifyServer> {
  const state = { status: 200 };
  const posts: NotifyPost[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (req.method === 'POST') {
        let text: string | undefined;
        try {
          text = JSON.parse(body)?.text;
        } catch {
          text = undefined;
        }
        posts.push({ path: req.url ?? '', contentType: req.headers['content-type'], body, text });
      }
      res.writeHead(state.status, { 'Content-Type': 'text/plain', Connection: 'close' });
      res.end(state.status === 200 ? 'ok' : 'no_service');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    posts,
    get status() {
      return state.status;
    },
    set status(s: number) {
      state.status = s;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

