/**
 * The HTTP side: livekit-server's middleware order (auth → twirp routing → method and
 * content-type checks → decoding → handler) on node:http, so every header and byte of an
 * answer is under our control.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Message, MessageType } from '@bufbuild/protobuf';
import { type AuthResult, authenticate, type Grants } from './auth.js';
import { TwirpError, toWireJson, twirpError } from './twirp.js';

export interface RecordedRequest {
  service: string;
  method: string;
  /** The request body as received (camelCase protobuf-JSON), or the raw text if not JSON. */
  body: unknown;
  /** Decoded `video`/`sip` claims of the token; undefined without a valid token. */
  grants: Grants | undefined;
  /** The HTTP status answered (0 while the call is still in progress). */
  status: number;
  /** Twirp error code, for failed calls. */
  code?: string;
  at: number;
}

export interface MethodContext {
  grants: Grants | undefined;
  /** Aborted when the client goes away (e.g. the SDK's request timeout fires). */
  signal: AbortSignal;
}

export interface MethodSpec {
  // biome-ignore lint/suspicious/noExplicitAny: each method has its own request message type
  req: MessageType<any>;
  // biome-ignore lint/suspicious/noExplicitAny: the request instance of `req`
  handle(req: any, ctx: MethodContext): Message | Promise<Message>;
}

export type ServiceTable = Record<string, Record<string, MethodSpec>>;

export interface HttpOptions {
  apiKey: string;
  apiSecret: string;
  services: ServiceTable;
  requests: RecordedRequest[];
}

export function createHttpServer(opts: HttpOptions): Server {
  const server = createServer((req, res) => {
    handle(req, res, opts).catch((err: unknown) => {
      // A bug in the stand-in: answer like twirp does for an unexpected error.
      if (!res.headersSent) sendTwirpError(res, twirpError('internal', String(err)));
    });
  });
  // Outlive undici's 4 s idle keep-alive so the client always closes first; otherwise a socket
  // the server is closing can be reused and fail with ECONNRESET (LiveKit's own server keeps
  // connections open far longer).
  server.keepAliveTimeout = 65_000;
  return server;
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: HttpOptions) {
  const raw = await readBody(req);
  const url = new URL(req.url ?? '/', 'http://standin');
  const path = url.pathname;

  const auth: AuthResult = await authenticate(
    req.headers.authorization,
    opts.apiKey,
    opts.apiSecret,
  );
  if ('plainError' in auth) return sendPlain(res, 401, auth.plainError);

  // http.ServeMux: only the registered services' prefixes exist.
  const match = /^\/twirp\/livekit\.([A-Za-z]+)\/(.*)$/.exec(path);
  const service = match?.[1] ?? '';
  const methods = opts.services[service];
  if (!methods) return sendPlain(res, 404, '404 page not found\n', true);
  const methodName = match?.[2] ?? '';

  const record: RecordedRequest = {
    service,
    method: methodName,
    body: parseJson(raw),
    grants: auth.grants,
    status: 0,
    at: Date.now(),
  };
  opts.requests.push(record);
  const route = `${req.method} ${path}`;
  const badRoute = (msg: string) => twirpError('bad_route', msg, { twirp_invalid_route: route });

  const respond = (status: number, code?: string) => {
    record.status = status;
    record.code = code;
  };
  const fail = (e: TwirpError) => {
    respond(e.status, e.code);
    sendTwirpError(res, e);
  };

  if (req.method !== 'POST') {
    return fail(
      badRoute(`unsupported method ${JSON.stringify(req.method)} (only POST is allowed)`),
    );
  }
  const spec = methods[methodName];
  if (!spec) return fail(badRoute(`no handler for path ${JSON.stringify(path)}`));

  const contentType = req.headers['content-type'] ?? '';
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase();
  let message: Message;
  let binary = false;
  try {
    if (mediaType === 'application/json') {
      message = spec.req.fromJsonString(raw.toString('utf8'), {
        ignoreUnknownFields: true,
      });
    } else if (mediaType === 'application/protobuf') {
      binary = true;
      message = spec.req.fromBinary(raw);
    } else {
      return fail(badRoute(`unexpected Content-Type: ${JSON.stringify(contentType)}`));
    }
  } catch {
    return fail(
      twirpError(
        'malformed',
        binary
          ? 'the protobuf request could not be decoded'
          : 'the json request could not be decoded',
      ),
    );
  }

  const aborted = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) aborted.abort();
  });
  let answer: Message;
  try {
    answer = await spec.handle(message, { grants: auth.grants, signal: aborted.signal });
  } catch (err) {
    if (err instanceof TwirpError) return fail(err);
    throw err;
  }
  respond(200);
  if (res.destroyed) return;
  if (binary) {
    const out = Buffer.from(answer.toBinary());
    res.writeHead(200, { 'Content-Type': 'application/protobuf', 'Content-Length': out.length });
    res.end(out);
    return;
  }
  const out = Buffer.from(JSON.stringify(toWireJson(answer)));
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': out.length });
  res.end(out);
}

function sendTwirpError(res: ServerResponse, e: TwirpError): void {
  if (res.destroyed) return;
  const out = Buffer.from(e.body());
  // Exactly "application/json": the SDK only decodes error bodies with this content type.
  res.writeHead(e.status, { 'Content-Type': 'application/json', 'Content-Length': out.length });
  res.end(out);
}

/**
 * LiveKit's HandleError writes bare text (Go sniffs it as text/plain); http.NotFound, used
 * by the mux, adds nosniff.
 */
function sendPlain(res: ServerResponse, status: number, text: string, nosniff = false): void {
  const out = Buffer.from(text);
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    ...(nosniff ? { 'X-Content-Type-Options': 'nosniff' } : {}),
    'Content-Length': out.length,
  });
  res.end(out);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
